/** A tool's result as JSON text for the audit trail: `null` for undefined, a note for what JSON cannot hold (cycles, BigInt). */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    return JSON.stringify(`[thoth: the result is not JSON: ${error instanceof Error ? error.message : String(error)}]`);
  }
}
