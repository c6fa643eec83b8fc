import type {DecisionContext} from '../core/decision.js';
import type {GovernanceHandle} from './types.js';
import type {Governor} from './governor.js';
import type {ToolsListHook} from './types.js';

/** One policy generation as the relay uses it. */
export interface GovernanceState {
  governor: Governor;
  context: DecisionContext;
  toolsListHook?: ToolsListHook | undefined;
}

/**
 * The relay's governance handle across policy reloads: `swap` replaces governor, context and
 * tools/list hook in one assignment, so a call that reads them when it starts gets one
 * generation, never a mix. Reading costs a property access per call.
 */
export class SwitchableGovernance implements GovernanceHandle {
  private state: GovernanceState;
  private readonly toolsListListeners: Array<() => void> = [];

  constructor(initial: GovernanceState) {
    this.state = initial;
  }

  get governor(): Governor {
    return this.state.governor;
  }

  get context(): DecisionContext {
    return this.state.context;
  }

  get toolsListHook(): ToolsListHook | undefined {
    return this.state.toolsListHook;
  }

  onToolsListChanged(listener: () => void): void {
    this.toolsListListeners.push(listener);
  }

  /** `toolsListChanged`: what tools/list filtering hides may differ under the new generation. */
  swap(next: GovernanceState, toolsListChanged: boolean): void {
    this.state = next;
    if (toolsListChanged) for (const listener of this.toolsListListeners) listener();
  }
}
