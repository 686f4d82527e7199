/** The busybox rootfs/bundle builder of tools/ (the runtime benchmark uses the same). */
export { buildBusyboxBundle, busyboxAvailable, writeSpec } from '@podkit/tools/rootfs/busybox';
