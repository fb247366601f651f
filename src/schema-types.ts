// TypeBox building blocks shared by the schemas of what lyncproxy reports (the explain result, the
// port tables, the admin API's answers). They keep the JSON schema a plain `type: string` with
// `enum` (or `anyOf` with null) while the derived TypeScript type is the precise union: fastify's
// serializer writes such a string directly, where a union of literals would make it try each
// alternative in turn.
import { Type, type SchemaOptions, type TSchema, type TUnion, type TNull, type TUnsafe } from '@sinclair/typebox'

export function StringEnum<const T extends readonly string[]> (values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] })
}

export function Nullable<T extends TSchema> (schema: T): TUnion<[T, TNull]> {
  return Type.Union([schema, Type.Null()])
}
