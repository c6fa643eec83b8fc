/**
 * `thoth-mcp/sdk`: the governance of `thoth run` for agents that call their tools themselves
 * (docs/sdk.md). A second front door to the same machinery: settings, policy, intents, modes,
 * approvals, pins, redaction, the sealed audit trail, the remote enforcer and shipping.
 *
 * Importing this module loads only the wrappers; the governance core loads with the first
 * session, in the background.
 */
export {createSession, instrument, sessionOf, wrapToolFunc, type SdkOptions} from './functions.js';
export {
  instrumentAnthropic,
  type AnthropicRunContext,
  type AnthropicToolResultBlock,
  type AnthropicToolResultContent,
  type AnthropicTools,
  type AnthropicToolUseBlock,
} from './anthropic.js';
export {instrumentOpenAI, type OpenAIToolCall, type OpenAIToolMessage, type OpenAITools} from './openai.js';
export {governClient, type McpClientLike} from './mcp-client.js';
export {ThothSession, type CallShape, type Governed, type GovernedResult, type SessionInfo, type ToolFunctions} from './session.js';
export {ToolCallRefusedError} from './errors.js';
export type {GovernanceOptions} from './options.js';
export type {PolicyDocument} from '../policy/model.js';
export type {EnforcementMode} from '../core/decision.js';
