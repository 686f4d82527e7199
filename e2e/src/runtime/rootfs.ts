/** The busybox rootfs/bundle builder of tools/ (the runtime benchmark uses the same). */
// eslint-disable-next-line @nx/enforce-module-boundaries -- tools/ builds the test bundles e2e uses (a declared dependency); nx treats it as an app
export { buildBusyboxBundle, busyboxAvailable, writeSpec } from '@podkit/tools/rootfs/busybox';
