// The config's JSON Schema, for editors (yaml-language-server reads it from a modeline) and for
// tools that check a file before lyncproxy sees it. It is the TypeBox schema the validator uses,
// serialised: not a second copy that could disagree. The `expected` annotation is lyncproxy's own
// wording for validation messages (validate.ts) and is left out, so editors see standard keywords
// only. One keyword is added: pool names. TypeBox writes a record as patternProperties, which lets
// any other key through unchecked; lyncproxy refuses such a name itself (validate.ts, with its own
// message), and the published schema says the same with propertyNames.
import { ConfigSchema } from './schema.js'

export function configJsonSchema (): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(ConfigSchema, (key, value: unknown) => key === 'expected' ? undefined : value)) as { properties: { pools: { patternProperties: Record<string, unknown>, propertyNames?: unknown } } }
  const poolsSchema = plain.properties.pools
  const [namePattern] = Object.keys(poolsSchema.patternProperties)
  if (namePattern !== undefined) poolsSchema.propertyNames = { pattern: namePattern }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'lyncproxy configuration',
    ...plain,
  }
}

// As written to schema/lyncproxy.schema.json and printed by `lyncproxy schema`.
export function configJsonSchemaText (): string {
  return JSON.stringify(configJsonSchema(), null, 2) + '\n'
}
