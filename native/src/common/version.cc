#include "common/version.h"
// Anchors the common library so it is never empty.
namespace podkit {
int AddonAbi() { return kAddonAbi; }
}  // namespace podkit
