/** The mount descriptor snapshotters return (containerd's `mount.Mount`): mounted later by the composer. */
import { Type, type Static } from '@sinclair/typebox';
import { StringArray } from './common';

export const MountDescriptorSchema = Type.Object({
  type: Type.String({ minLength: 1 }),
  source: Type.String(),
  target: Type.Optional(Type.String()),
  options: StringArray(),
});

export type MountDescriptor = Static<typeof MountDescriptorSchema>;
