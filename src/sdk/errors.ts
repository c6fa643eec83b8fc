import {ErrorCode} from '../core/error-codes.js';
import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {JsonRpcErrorObject} from '../core/json-rpc.js';

/**
 * A governed call that thoth refused: blocked by policy (`code` -32001), waiting for a person's
 * approval (-32002), or refused before any decision (-32600: arguments a server could read
 * differently). `code`, `message` and `data` are those of the JSON-RPC error `thoth run` returns
 * for the same call (docs/run.md#what-is-governed), so one handler serves both front doors.
 * The function was not called.
 */
export class ToolCallRefusedError extends Error {
  readonly code: number;
  readonly data: Record<string, unknown>;
  /** The tool that was refused. */
  readonly tool: string;

  constructor(tool: string, error: JsonRpcErrorObject) {
    super(error.message);
    this.name = 'ToolCallRefusedError';
    this.code = error.code;
    this.tool = tool;
    this.data = typeof error.data === 'object' && error.data !== null ? (error.data as Record<string, unknown>) : {};
  }

  /** `block` or `step_up` as the policy decided (step-ups carry `approvalId` in `data`). */
  get decision(): string | undefined {
    return typeof this.data['decision'] === 'string' ? this.data['decision'] : undefined;
  }

  /** The approval a person has to grant before the identical call passes (`thoth approvals list`). */
  get approvalId(): string | undefined {
    return typeof this.data['approvalId'] === 'string' ? this.data['approvalId'] : undefined;
  }
}

/** An SDK option the program passed cannot be used: one line naming the option and the fix. */
export function optionError(option: string, problem: string, fix: string): ThothError {
  return new ThothError('SDK_OPTION_INVALID', `thoth-mcp/sdk: option "${option}" ${problem}: ${fix}`, {exitCode: ExitCode.USAGE});
}

/** A refusal of the SDK itself (no decision was made): the shape of a policy block, so one handler serves both. */
export function sdkRefusal(reason: string, ruleId: string): JsonRpcErrorObject {
  return {code: ErrorCode.BLOCKED, message: `thoth: ${reason}`, data: {decision: 'block', reason, ruleId}};
}
