// The generated OpenAPI document (what /openapi.json serves) is the one the schemas give now: a stale file would
// describe an API that no longer exists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/contract/openapi';
import { writeOpenApi } from '../../scripts/generate-registry';

const ROOT = join(import.meta.dirname, '..', '..');

describe('src/contract/openapi.generated.json', () => {
  it('is what src/contract/openapi.ts builds from the schemas', () => {
    writeOpenApi();
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(JSON.parse(readFileSync(join(ROOT, 'src/contract/openapi.generated.json'), 'utf8'))).toEqual(openApiDocument(version));
  });

  it('describes bodies with JSON Schema 2020-12 from the valibot schemas, $refs resolved in components', () => {
    const doc = openApiDocument('0.0.0') as any;
    expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    const refs = JSON.stringify(doc).match(/"#\/components\/(schemas|responses|parameters)\/[A-Za-z]+"/g) ?? [];
    for (const r of new Set(refs)) {
      const [, kind, name] = JSON.parse(r).split('/').slice(1);
      expect(doc.components[kind][name], r).toBeDefined();
    }
    // The metadata schema reaches the document: features are {name, mean, std, raw?} and nothing else.
    const feature = doc.components.schemas.TfModelMetadata.properties.features.items;
    expect(feature.required).toEqual(['name', 'mean', 'std']);
    expect(feature.additionalProperties).toBe(false);
  });
});
