/** Schema building blocks shared by the runtime-spec and image-spec schemas (TypeBox → JSON Schema). */
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { PATTERNS } from './patterns';

/** A string restricted to a fixed set: one `enum` keyword, so ajv reports one error naming the values. */
export function StringEnum<const T extends readonly string[]>(values: T, description?: string): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
}

/** `T | null`, as one `type: [t, "null"]` (Docker configs write `null` for empty lists and maps). */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const { type, ...rest } = schema as unknown as { type: string };
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] });
}

export const UINT32_MAX = 4294967295;
export const Uint32 = () => Type.Integer({ minimum: 0, maximum: UINT32_MAX });
export const Int32 = () => Type.Integer({ minimum: -2147483648, maximum: 2147483647 });
export const Uint16 = () => Type.Integer({ minimum: 0, maximum: 65535 });
/** JSON numbers beyond 2^53 lose precision in JavaScript; the schema checks sign and integrality only. */
export const Uint64 = () => Type.Integer({ minimum: 0 });
export const Int64 = () => Type.Integer();

export const StringMap = () => Type.Record(Type.String(), Type.String());
export const StringArray = () => Type.Array(Type.String());

export function Pattern(name: keyof typeof PATTERNS, opts: { minLength?: number } = {}) {
  return Type.String({ pattern: PATTERNS[name].pattern, ...opts });
}
