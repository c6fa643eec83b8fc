// A Claude agent whose tool calls thoth governs: the tool runner of @anthropic-ai/sdk, with
// every tool decided by policy, approved by a person when the policy says so, and recorded in
// the audit trail. Run it with ANTHROPIC_API_KEY set (ANTHROPIC_BASE_URL for another endpoint):
//
//   WORKSPACE=/tmp/ws node examples/anthropic-agent.mjs "Tidy up the workspace"
//
// A refused call reaches the model as a tool_result with is_error; a call that needs approval
// tells it which approval to ask for, and this program's stderr prints the `thoth approve`
// command for you. See docs/sdk.md.
import Anthropic from '@anthropic-ai/sdk';
import {betaTool} from '@anthropic-ai/sdk/helpers/beta/json-schema';
import {instrumentAnthropic} from 'thoth-mcp/sdk';

import {descriptions, fileTools, policy, schemas} from './file-tools.mjs';

const tools = instrumentAnthropic(fileTools, {agentId: 'file-agent', policy});

const client = new Anthropic();
try {
  const final = await client.beta.messages.toolRunner({
    model: process.env.ANTHROPIC_MODEL ?? 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages: [{role: 'user', content: process.argv[2] ?? 'List the workspace and summarise what is in it.'}],
    tools: Object.keys(fileTools).map((name) =>
      betaTool({name, description: descriptions[name], inputSchema: schemas[name], run: tools.run[name]}),
    ),
  });
  for (const block of final.content) if (block.type === 'text') process.stdout.write(`${block.text}\n`);
} finally {
  // Seals this session's audit chain: `thoth audit verify` checks it.
  await tools.session.close();
}
