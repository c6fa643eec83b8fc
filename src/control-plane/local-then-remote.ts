import type {ClientChannel, StepUpHandler} from '../governance/types.js';
import type {RemoteEnforcer} from './remote-enforcer.js';
import type {Decision, DecisionContext, Enforcer, ToolCall} from '../core/decision.js';

/**
 * How the embedded and the remote enforcer combine when a control plane is configured:
 *
 * 1. The embedded enforcer decides first, locally: tool pins, the session intent, argument size,
 *    thoth's own files, the local policy's rules, scope and mode. A local block is final and the
 *    call never leaves the machine (the intent check runs "before any score-based
 *    decisions", and no remote answer may loosen a local guardrail).
 * 2. Otherwise the remote enforcer decides (one POST), and the call gets the more restrictive of
 *    the two: block > step_up > allow. A local `--enforcement-mode observe` therefore cannot
 *    switch off a central block; the remote enforcer is told the mode and may honour it.
 * 3. On a tie the remote decision stands; a step-up it asked for is approved in the control plane
 *    (a hold token is waited on), never by the user's own prompt. A local step-up (remote allowed)
 *    goes through the local approvals as without a control plane.
 * 4. The embedded enforcer's progressive baseline learns a call only when the combined decision
 *    allows it: a call the control plane blocks must not become "usual" locally.
 */
export class LocalThenRemoteEnforcer implements Enforcer {
  private readonly learnLocally: ((call: ToolCall) => void) | undefined;

  constructor(
    private readonly local: Enforcer,
    private readonly remote: RemoteEnforcer,
    private readonly now: () => number = Date.now,
  ) {
    this.learnLocally = local.deferLearning?.();
  }

  async decide(call: ToolCall, context: DecisionContext, signal?: AbortSignal): Promise<Decision> {
    const startedAt = this.now();
    const local = await this.local.decide(call, context, signal);
    if (local.decision === 'block') {
      return {...local, trace: [...(local.trace ?? []), 'remote enforcer not asked: the embedded decision is block']};
    }
    const remote = await this.remote.decide(call, context, local, startedAt);
    const combined = this.remote.combine(local, remote);
    if (combined.decision === 'allow' && local.decision === 'allow' && local.observed === undefined) this.learnLocally?.(call);
    return combined;
  }
}

/**
 * Step-up resolution with a control plane: a remote step-up with a hold token waits for the
 * central approval; a remote step-up without one is answered -32002 at once (only the control
 * plane can approve it); every other step-up (the local policy's, or the failure decision
 * `step_up` while the enforcer is down) goes to the local approvals.
 */
export class RemoteAwareStepUp implements StepUpHandler {
  constructor(
    private readonly remote: RemoteEnforcer,
    private readonly local: StepUpHandler | undefined,
  ) {}

  async resolve(
    call: ToolCall,
    context: DecisionContext,
    decision: Decision,
    client: ClientChannel,
    signal: AbortSignal,
  ): Promise<Decision> {
    if (this.remote.hasHold(decision)) return this.remote.awaitApproval(decision, signal);
    if (this.remote.isRemote(decision)) return decision;
    return this.local ? this.local.resolve(call, context, decision, client, signal) : decision;
  }
}
