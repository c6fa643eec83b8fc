import {createHash} from 'node:crypto';
import {setTimeout as sleep} from 'node:timers/promises';
import {beforeAll, describe, expect, it} from 'vitest';

import {LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema} from '@modelcontextprotocol/sdk/types.js';

import {connect, SERVER_EVERYTHING, throughThoth, type Connection, type ServerCommand} from '../helpers/mcp.js';
import {tempDir} from '../helpers/tmp.js';

/**
 * The same scripted MCP session, once directly against server-everything and once through
 * `thoth run`, with the official SDK client. Whatever the client observes must be identical.
 */

interface Observed {
  serverVersion: unknown;
  serverCapabilities: unknown;
  instructions: unknown;
  tools: unknown;
  calls: Record<string, unknown>;
  progress: unknown[];
  resources: unknown;
  templates: unknown;
  textResource: unknown;
  blobResource: unknown;
  largeBinaryToolHash: string;
  largeBinaryResourceHash: string;
  largeBinaryBytes: number;
  prompts: unknown;
  promptResults: unknown;
  completion: unknown;
  loggingLevels: string[];
  resourceUpdates: string[];
  cancelled: string;
  afterCancel: unknown;
  concurrent: unknown[];
  bigEcho: string;
}

const BIG_MESSAGE = 'm'.repeat(5 * 1024 * 1024);
/** 3 MiB of incompressible bytes, so the gzipped resource stays large. */
const LARGE_BINARY = (() => {
  const chunks: Buffer[] = [];
  let seed = createHash('sha256').update('thoth').digest();
  for (let size = 0; size < 3 * 1024 * 1024; size += seed.length) {
    seed = createHash('sha256').update(seed).digest();
    chunks.push(seed);
  }
  return Buffer.concat(chunks);
})();

async function observe(server: ServerCommand, env: Record<string, string>): Promise<Observed> {
  const connection: Connection = await connect(server, {fullCapabilities: true, env});
  const {client} = connection;
  try {
    const loggingLevels: string[] = [];
    const resourceUpdates: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void loggingLevels.push(n.params.level));
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void resourceUpdates.push(n.params.uri));

    const tools = await client.listTools();
    const calls: Record<string, unknown> = {};
    const callsToMake: Array<[string, Record<string, unknown>]> = [
      ['echo', {message: 'hello through the proxy'}],
      ['get-sum', {a: 40, b: 2}],
      ['get-structured-content', {location: 'New York'}],
      ['get-tiny-image', {}],
      ['get-annotated-message', {messageType: 'success', includeImage: true}],
      ['get-resource-links', {count: 3}],
      ['get-resource-reference', {resourceType: 'blob', resourceId: 2}],
      ['trigger-sampling-request', {prompt: 'say something', maxTokens: 20}],
      ['trigger-elicitation-request', {}],
      ['get-roots-list', {}],
      ['echo', {}],
    ];
    for (const [name, args] of callsToMake) {
      calls[`${name}:${JSON.stringify(args)}`] = await client
        .callTool({name, arguments: args})
        .catch((error: Error) => ({thrown: error.message}));
    }

    const progressCallbacks: unknown[] = [];
    const progressStart = connection.received.length;
    calls['progress'] = await client.callTool({name: 'trigger-long-running-operation', arguments: {duration: 0.3, steps: 3}}, undefined, {
      onprogress: (p) => void progressCallbacks.push(p),
    });
    // Read progress off the wire: the SDK client drops a last progress notification that arrives in
    // the same read as the response (typescript-sdk#2580), a race that any hop can trigger.
    const progress = connection.received
      .slice(progressStart)
      .filter((m) => m['method'] === 'notifications/progress')
      .map((m) => m['params']);
    expect(progressCallbacks.length).toBeGreaterThanOrEqual(2);

    const resources = await client.listResources();
    const templates = await client.listResourceTemplates();
    const textResource = await client.readResource({uri: 'demo://resource/dynamic/text/1'});
    const blobResource = await client.readResource({uri: 'demo://resource/dynamic/blob/1'});
    const gzip = (await client.callTool({
      name: 'gzip-file-as-resource',
      arguments: {
        name: 'large.bin.gz',
        data: `data:application/octet-stream;base64,${LARGE_BINARY.toString('base64')}`,
        outputType: 'resource',
      },
    })) as {content: Array<{resource?: {blob?: string}}>};
    const blob = gzip.content.find((c) => c.resource?.blob)?.resource?.blob ?? '';
    const sessionResource = (await client.readResource({uri: 'demo://resource/session/large.bin.gz'})) as {
      contents: Array<{blob?: string}>;
    };
    const sessionBlob = sessionResource.contents[0]?.blob ?? '';

    const prompts = await client.listPrompts();
    const promptResults = [
      await client.getPrompt({name: 'simple-prompt'}),
      await client.getPrompt({name: 'args-prompt', arguments: {city: 'Lisbon', state: 'LX'}}),
      await client.getPrompt({name: 'resource-prompt', arguments: {resourceType: 'Text', resourceId: '2'}}),
    ];
    const completion = await client.complete({
      ref: {type: 'ref/prompt', name: 'completable-prompt'},
      argument: {name: 'department', value: 'E'},
    });

    await client.setLoggingLevel('debug');
    await client.callTool({name: 'toggle-simulated-logging', arguments: {}});
    await client.subscribeResource({uri: 'demo://resource/dynamic/text/1'});
    await client.callTool({name: 'toggle-subscriber-updates', arguments: {}});
    const deadline = Date.now() + 5000;
    while ((loggingLevels.length === 0 || resourceUpdates.length === 0) && Date.now() < deadline) await sleep(20);
    await client.callTool({name: 'toggle-simulated-logging', arguments: {}});
    await client.callTool({name: 'toggle-subscriber-updates', arguments: {}});
    await client.unsubscribeResource({uri: 'demo://resource/dynamic/text/1'});

    const controller = new AbortController();
    const cancelled = client
      .callTool({name: 'trigger-long-running-operation', arguments: {duration: 5, steps: 5}}, undefined, {signal: controller.signal})
      .then(
        () => 'completed',
        (error: Error) => `rejected: ${error.name}`,
      );
    await sleep(200);
    controller.abort();
    const cancelOutcome = await cancelled;
    const afterCancel = await client.callTool({name: 'get-sum', arguments: {a: 1, b: 1}});

    const concurrent = await Promise.all(
      Array.from({length: 64}, (_, i) => client.callTool({name: 'echo', arguments: {message: `call ${i}`}})),
    );
    const bigEcho = (await client.callTool({name: 'echo', arguments: {message: BIG_MESSAGE}})) as {content: Array<{text: string}>};

    return {
      serverVersion: client.getServerVersion(),
      serverCapabilities: client.getServerCapabilities(),
      instructions: client.getInstructions(),
      tools,
      calls,
      progress,
      resources,
      templates,
      textResource,
      blobResource,
      largeBinaryToolHash: createHash('sha256').update(blob).digest('hex'),
      largeBinaryResourceHash: createHash('sha256').update(sessionBlob).digest('hex'),
      largeBinaryBytes: blob.length,
      prompts,
      promptResults,
      completion,
      loggingLevels: [...new Set(loggingLevels)],
      resourceUpdates: [...new Set(resourceUpdates)],
      cancelled: cancelOutcome,
      afterCancel,
      concurrent,
      bigEcho: createHash('sha256')
        .update(bigEcho.content[0]?.text ?? '')
        .digest('hex'),
    };
  } finally {
    await connection.close();
  }
}

/**
 * server-everything stamps dynamic resources with the wall-clock time (also inside base64 blobs
 * of text): the only expected difference between two runs.
 */
function withoutClockTimes(observed: Observed): Observed {
  const clock = /created at \d{1,2}:\d{2}:\d{2}(?:\s?[AP]M)?/g;
  return JSON.parse(JSON.stringify(observed), (key, value: unknown) => {
    if (typeof value !== 'string') return value;
    if (key === 'blob') {
      const text = Buffer.from(value, 'base64').toString('utf8');
      if (clock.test(text)) return `decoded:${text.replace(clock, 'created at <time>')}`;
      return value;
    }
    return value.replace(clock, 'created at <time>');
  }) as Observed;
}

describe('thoth run is invisible to a real MCP session (server-everything, official SDK client)', () => {
  let direct: Observed;
  let proxied: Observed;

  beforeAll(async () => {
    const home = await tempDir();
    const env = {THOTH_HOME: home, THOTH_REQUIRE_NON_ROOT: 'false'};
    direct = withoutClockTimes(await observe(SERVER_EVERYTHING, env));
    proxied = withoutClockTimes(
      await observe(throughThoth(SERVER_EVERYTHING, ['--agent-id', 'everything', '--enforcement-mode', 'observe']), env),
    );
  }, 120_000);

  it('initialize: same server info, capabilities and instructions', () => {
    expect(proxied.serverVersion).toEqual(direct.serverVersion);
    expect(proxied.serverCapabilities).toEqual(direct.serverCapabilities);
    expect(proxied.instructions).toEqual(direct.instructions);
    expect(direct.serverVersion).toMatchObject({name: expect.any(String)});
  });

  it('tools/list: same tools, including those offered only to clients with sampling, elicitation and roots', () => {
    expect(proxied.tools).toEqual(direct.tools);
    const names = (direct.tools as {tools: Array<{name: string}>}).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'trigger-sampling-request', 'trigger-elicitation-request', 'get-roots-list']));
  });

  it('tools/call: text, structured content, images, annotations, links, embedded resources, errors', () => {
    expect(proxied.calls).toEqual(direct.calls);
    const structured = direct.calls['get-structured-content:{"location":"New York"}'] as {structuredContent?: unknown};
    expect(structured.structuredContent).toBeDefined();
    const image = direct.calls['get-tiny-image:{}'] as {content: Array<{type: string}>};
    expect(image.content.some((c) => c.type === 'image')).toBe(true);
  });

  it('server-initiated sampling, elicitation and roots requests reach the client and their answers reach the server', () => {
    expect(JSON.stringify(proxied.calls['trigger-sampling-request:{"prompt":"say something","maxTokens":20}'])).toContain('sampled answer');
    expect(JSON.stringify(proxied.calls['trigger-elicitation-request:{}'])).toContain('Ada Lovelace');
    expect(JSON.stringify(proxied.calls['get-roots-list:{}'])).toContain('file:///tmp/project');
  });

  it('progress notifications arrive in the same number and order', () => {
    expect(proxied.progress).toEqual(direct.progress);
    expect(direct.progress.length).toBe(3);
  });

  it('resources: lists, templates, text and blob reads, and a large binary resource', () => {
    expect(proxied.resources).toEqual(direct.resources);
    expect(proxied.templates).toEqual(direct.templates);
    expect(proxied.textResource).toEqual(direct.textResource);
    expect(proxied.blobResource).toEqual(direct.blobResource);
    expect(direct.largeBinaryBytes).toBeGreaterThan(3 * 1024 * 1024);
    expect(proxied.largeBinaryToolHash).toBe(direct.largeBinaryToolHash);
    expect(proxied.largeBinaryResourceHash).toBe(direct.largeBinaryResourceHash);
    expect(proxied.largeBinaryResourceHash).toBe(proxied.largeBinaryToolHash);
  });

  it('prompts and completion', () => {
    expect(proxied.prompts).toEqual(direct.prompts);
    expect(proxied.promptResults).toEqual(direct.promptResults);
    expect(proxied.completion).toEqual(direct.completion);
    expect((direct.completion as {completion: {values: string[]}}).completion.values).toContain('Engineering');
  });

  it('logging notifications and resource subscription updates', () => {
    expect(proxied.loggingLevels.length).toBeGreaterThan(0);
    expect(direct.loggingLevels.length).toBeGreaterThan(0);
    expect(proxied.resourceUpdates).toEqual(direct.resourceUpdates);
    expect(proxied.resourceUpdates).toEqual(['demo://resource/dynamic/text/1']);
  });

  it('cancellation: the cancelled call is abandoned and the session goes on', () => {
    expect(proxied.cancelled).toBe(direct.cancelled);
    expect(proxied.cancelled).toMatch(/^rejected/);
    expect(proxied.afterCancel).toEqual(direct.afterCancel);
  });

  it('64 concurrent calls each get their own answer', () => {
    expect(proxied.concurrent).toEqual(direct.concurrent);
    expect((proxied.concurrent[63] as {content: Array<{text: string}>}).content[0]!.text).toBe('Echo: call 63');
  });

  it('a message of several MiB goes both ways intact', () => {
    expect(proxied.bigEcho).toBe(direct.bigEcho);
    expect(proxied.bigEcho).toBe(createHash('sha256').update(`Echo: ${BIG_MESSAGE}`).digest('hex'));
  });
});
