import type {PolicyDocument} from './model.js';

/**
 * The policy used when none is installed. Safe without being in the way on day one:
 * `progressive` learns what each server normally does and asks a person about anything new
 * once the baseline is established, and a call that names a credential file always needs
 * approval. (thoth's own files are protected by every policy, this one included.)
 */
export const BUILTIN_POLICY: PolicyDocument = {
  version: 'builtin-1',
  description: 'thoth built-in default: progressive mode; credential files need approval.',
  defaults: {mode: 'progressive'},
  rules: [
    {
      id: 'builtin-credential-files',
      tool: '*',
      args: {
        '*': {
          path_glob: [
            '~/.ssh/**',
            '~/.aws/**',
            '~/.gnupg/**',
            '~/.kube/**',
            '~/.docker/config.json',
            '~/.netrc',
            '~/.git-credentials',
            '~/.npmrc',
            '~/.pypirc',
            '~/.config/gcloud/**',
            '~/.azure/**',
            '~/Library/Keychains/**',
            '/etc/shadow',
            '/etc/sudoers',
            '/etc/sudoers.d/**',
          ],
        },
      },
      decision: 'step_up',
      reason: 'the call names a file that usually holds credentials',
    },
  ],
};
