// An OpenAI agent whose tool calls thoth governs: `runTools` of the openai package, with every
// tool decided by policy, approved by a person when the policy says so, and recorded in the
// audit trail. Run it with OPENAI_API_KEY set (OPENAI_BASE_URL for another endpoint):
//
//   WORKSPACE=/tmp/ws node examples/openai-agent.mjs "Tidy up the workspace"
//
// A refused call reaches the model as the tool message ("Error: thoth: ..."), and the loop goes
// on; this program's stderr prints the `thoth approve` command for a call that needs approval.
// See docs/sdk.md.
import OpenAI from 'openai';
import {instrumentOpenAI} from 'thoth-mcp/sdk';

import {descriptions, fileTools, policy, schemas} from './file-tools.mjs';

const tools = instrumentOpenAI(fileTools, {agentId: 'file-agent', policy});

const client = new OpenAI();
try {
  const runner = client.chat.completions.runTools({
    model: process.env.OPENAI_MODEL ?? 'gpt-4.1-mini',
    messages: [{role: 'user', content: process.argv[2] ?? 'List the workspace and summarise what is in it.'}],
    tools: Object.keys(fileTools).map((name) => ({
      type: 'function',
      function: {name, description: descriptions[name], parameters: schemas[name], function: tools.functions[name], parse: JSON.parse},
    })),
  });
  process.stdout.write(`${await runner.finalContent()}\n`);
} finally {
  // Seals this session's audit chain: `thoth audit verify` checks it.
  await tools.session.close();
}
