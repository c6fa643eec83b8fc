import {ThothError} from '../core/errors.js';
import {ExitCode} from '../core/exit-codes.js';
import type {AncestryIo} from '../util/process-ancestry.js';

/**
 * Set by `thoth run` in the environment of the server it governs (and so of everything the
 * server starts, an agent's shell included), to that session's id.
 */
export const GOVERNED_SESSION_ENV = 'THOTH_GOVERNED_SESSION';

export interface GovernedSessionIo {
  env?: NodeJS.ProcessEnv;
  ancestry?: AncestryIo;
}

/**
 * Refuses to go on inside a session that thoth governs: `thoth approve`, `thoth deny` and
 * `thoth pins accept` are decisions for a person, and an agent with a shell tool would otherwise
 * take them on its own behalf. Two signs, either is enough: the environment marker (which a shell
 * can unset) and a `thoth run` among the parent processes (which it cannot, short of escaping the
 * process tree: see the residual risks in the docs). When the process table cannot be read the
 * command refuses too, saying so.
 */
export async function assertOutsideGovernedSession(command: string, consequence: string, io: GovernedSessionIo = {}): Promise<void> {
  const env = io.env ?? process.env;
  const refuse = (sign: string): ThothError =>
    new ThothError(
      'INSIDE_GOVERNED_SESSION',
      `${command} cannot run inside a session that thoth governs: ${consequence}; run it in your own terminal (${sign})`,
      {
        exitCode: ExitCode.SECURITY,
        suggestions: ['Open a terminal of your own (not one an AI agent or an MCP server started) and run the command there.'],
      },
    );
  const marker = env[GOVERNED_SESSION_ENV];
  if (marker !== undefined && marker !== '') throw refuse(`${GOVERNED_SESSION_ENV} is set: session ${marker}`);
  const {governingAncestor, ProcessInspectionError} = await import('../util/process-ancestry.js');
  let ancestor;
  try {
    ancestor = await governingAncestor({env, ...io.ancestry});
  } catch (error) {
    if (!(error instanceof ProcessInspectionError)) throw error;
    throw new ThothError(
      'PROCESS_TREE_UNREADABLE',
      `${command} refuses to run: it could not check that it is not inside a session thoth governs (${error.message})`,
      {
        exitCode: ExitCode.SECURITY,
        suggestions: [
          'Run it in an ordinary terminal of your own, where the process list can be read (ps on macOS, PowerShell and CIM on Windows, /proc on Linux).',
        ],
      },
    );
  }
  if (ancestor) throw refuse(`process ${ancestor.pid} above it is \`thoth run\`: ${ancestor.words.join(' ').slice(0, 200)}`);
}
