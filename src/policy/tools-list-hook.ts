import type {DecisionContext} from '../core/decision.js';
import type {ToolsListHook} from '../governance/types.js';
import type {PinGuard} from '../pins/guard.js';
import type {ToolDefinition} from '../pins/store.js';
import type {JsonObject} from '../core/json-rpc.js';
import {neverAllowed} from './engine.js';
import type {CompiledPolicy} from './model.js';

export interface PolicyToolsListHookOptions {
  policy: CompiledPolicy;
  /** Hide tools the policy can never allow (`--no-filter-tools` turns it off). */
  filter: boolean;
  pins?: PinGuard | undefined;
  /** TOOLS_HIDDEN for the audit trail. */
  event?: (type: string, context: DecisionContext, fields: Record<string, unknown>) => void;
}

/**
 * Rewrites tools/list results: tools the policy can never allow (outside the session intent,
 * always blocked by a rule, or outside the approved scope in block mode) are removed so the
 * model does not waste turns on them, and a tool whose definition changed since it was pinned
 * is shown with its pinned definition, so a swapped-in description never reaches the model.
 */
export class PolicyToolsListHook implements ToolsListHook {
  constructor(private readonly options: PolicyToolsListHookOptions) {}

  async onToolsList(result: JsonObject, context: DecisionContext): Promise<JsonObject | undefined> {
    const tools = result['tools'];
    if (!Array.isArray(tools)) return undefined;
    const named = tools.filter(
      (tool): tool is ToolDefinition => typeof tool === 'object' && tool !== null && typeof (tool as {name?: unknown}).name === 'string',
    );
    const pinned = this.options.pins ? await this.options.pins.observe(named) : new Map<string, ToolDefinition>();
    const hidden: string[] = [];
    let changed = false;
    const kept: unknown[] = [];
    for (const tool of tools) {
      const name = typeof tool === 'object' && tool !== null ? (tool as {name?: unknown}).name : undefined;
      if (typeof name !== 'string') {
        kept.push(tool);
        continue;
      }
      if (this.options.filter && neverAllowed(this.options.policy, context.agentId, context.mode, context.intent, name) !== undefined) {
        hidden.push(name);
        changed = true;
        continue;
      }
      const replacement = pinned.get(name);
      if (replacement !== undefined) {
        // Keep fields thoth does not pin (icons, _meta) from the server; the pinned ones win.
        kept.push({...(tool as object), ...stripUnpinned(tool as ToolDefinition, replacement)});
        changed = true;
      } else {
        kept.push(tool);
      }
    }
    // Mode and intent are common fields of every event (an intent only when there is one).
    if (hidden.length > 0) this.options.event?.('TOOLS_HIDDEN', context, {tools: hidden});
    return changed ? {...result, tools: kept} : undefined;
  }

  onToolsChanged(): void {
    // Nothing cached: the client lists again and the new list is checked against the pins.
  }
}

/** The pinned definition, with pinned fields the server no longer sends removed explicitly. */
function stripUnpinned(current: ToolDefinition, pinned: ToolDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {...pinned};
  for (const field of ['title', 'description', 'inputSchema', 'outputSchema', 'annotations']) {
    if (!(field in pinned) && field in current) out[field] = undefined;
  }
  return out;
}
