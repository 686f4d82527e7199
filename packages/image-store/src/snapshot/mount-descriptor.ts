/**
 * The `Mount` descriptor a snapshotter returns: `{type, source, target?, options}`. The canonical type
 * lives in @podkit/oci-spec; this alias keeps the snapshotter's imports in one place.
 */
export interface MountDescriptor {
  type: string;
  source: string;
  target?: string;
  options: string[];
}
