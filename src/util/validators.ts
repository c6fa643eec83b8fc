import type {ErrorObject} from 'ajv';
import {findNodeAtLocation, parseTree, type Node} from 'jsonc-parser';

/** A validator compiled ahead of time by scripts/build.mjs from schemas/<name>.schema.json. */
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

const cache = new Map<string, CompiledValidator>();

/**
 * Loads the standalone validator for `schemas/<name>.schema.json` (e.g. `policy`,
 * `control-plane/enforce-request`). No schema is compiled at run time: start-up stays fast.
 */
export async function loadValidator(name: string): Promise<CompiledValidator> {
  const cached = cache.get(name);
  if (cached) return cached;
  const module = (await import(new URL(`../generated/validators/${name}.js`, import.meta.url).href)) as {default: CompiledValidator};
  cache.set(name, module.default);
  return module.default;
}

export interface SchemaProblem {
  /** JSON pointer of the offending value, '' for the document root. */
  pointer: string;
  /** 1-based line and column in the source text when it is known. */
  line?: number;
  column?: number;
  message: string;
}

/** Turns ajv errors into problems located in the source text (so users can jump to line:column). */
export function describeSchemaErrors(errors: readonly ErrorObject[], sourceText?: string): SchemaProblem[] {
  const tree = sourceText === undefined ? undefined : parseTree(sourceText, [], {allowTrailingComma: true});
  return errors.map((error) => {
    const pointer =
      error.keyword === 'additionalProperties'
        ? `${error.instancePath}/${escapePointer(String((error.params as {additionalProperty?: unknown}).additionalProperty))}`
        : error.instancePath;
    const problem: SchemaProblem = {pointer, message: humanMessage(error)};
    const position = tree && sourceText !== undefined ? locate(tree, pointer, sourceText) : undefined;
    if (position) {
      problem.line = position.line;
      problem.column = position.column;
    }
    return problem;
  });
}

/** One line: `file:line:column at /pointer: message`. */
export function formatSchemaProblem(file: string, problem: SchemaProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  return `${where} at ${problem.pointer === '' ? '/' : problem.pointer}: ${problem.message}`;
}

function humanMessage(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown property "${String(params['additionalProperty'])}"`;
    case 'enum':
      return `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'required':
      return `missing required property "${String(params['missingProperty'])}"`;
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function locate(tree: Node, pointer: string, text: string): {line: number; column: number} | undefined {
  const segments =
    pointer === ''
      ? []
      : pointer
          .slice(1)
          .split('/')
          .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  const path = segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let node = findNodeAtLocation(tree, path);
  // For an unknown property, point at its key rather than its value.
  if (node?.parent?.type === 'property' && node.parent.children?.[0]) node = node.parent.children[0];
  while (!node && path.length > 0) {
    path.pop();
    node = findNodeAtLocation(tree, path);
  }
  if (!node) return undefined;
  return offsetToPosition(text, node.offset);
}

export function offsetToPosition(text: string, offset: number): {line: number; column: number} {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return {line, column: offset - lineStart + 1};
}
