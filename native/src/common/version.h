#pragma once
namespace podkit {
// Bumped when the addon's exported functions change incompatibly; the TypeScript loader checks it.
inline constexpr int kAddonAbi = 1;
// Version of the plan protocol spoken between runtime-core and podkit-init.
inline constexpr int kPlanProtocolVersion = 2;
}  // namespace podkit
