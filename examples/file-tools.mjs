// The tools and the policy both examples share: an agent that manages the files of one
// workspace directory. Reading and listing are approved; writing needs a person's approval;
// deleting is outside the approved scope, so block mode refuses it.
import {mkdir, readFile, readdir, rm, writeFile} from 'node:fs/promises';
import {resolve, sep} from 'node:path';

/** Every tool works inside this directory (WORKSPACE, else the current directory). */
export const workspace = resolve(process.env.WORKSPACE ?? process.cwd());

/** A path of the workspace: a path that leaves it is an error the model sees, not a file it gets. */
function inWorkspace(path) {
  const full = resolve(workspace, String(path));
  if (full !== workspace && !full.startsWith(workspace + sep)) throw new Error(`${path} is outside the workspace`);
  return full;
}

export const fileTools = {
  list_files: async () => (await readdir(workspace)).sort(),
  read_file: async ({path}) => readFile(inWorkspace(path), 'utf8'),
  write_file: async ({path, text}) => {
    const full = inWorkspace(path);
    await mkdir(resolve(full, '..'), {recursive: true});
    await writeFile(full, text);
    return {written: Buffer.byteLength(text), path};
  },
  delete_file: async ({path}) => {
    await rm(inWorkspace(path));
    return `deleted ${path}`;
  },
};

/** JSON Schemas of the tools' arguments, for the model. */
export const schemas = {
  list_files: {type: 'object', properties: {}},
  read_file: {type: 'object', properties: {path: {type: 'string'}}, required: ['path']},
  write_file: {type: 'object', properties: {path: {type: 'string'}, text: {type: 'string'}}, required: ['path', 'text']},
  delete_file: {type: 'object', properties: {path: {type: 'string'}}, required: ['path']},
};

export const descriptions = {
  list_files: 'List the files of the workspace.',
  read_file: 'Read a file of the workspace.',
  write_file: 'Write a file of the workspace.',
  delete_file: 'Delete a file of the workspace.',
};

/** The policy of this agent (a policy installed by your administrator wins over it). */
export const policy = {
  version: 'file-agent-example-1',
  agents: {
    'file-agent': {
      mode: 'block',
      approved_scope: ['list_files', 'read_file', 'write_file'],
      rules: [{id: 'writes-need-approval', tool: 'write_file', decision: 'step_up', reason: "writes need a person's approval"}],
    },
  },
};
