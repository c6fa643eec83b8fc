import type {PolicyDocument} from './model.js';

/**
 * Files that usually hold credentials, each with a file a call would name (what `policy validate`
 * tries a policy's rules against, see credential-check.ts). The built-in policy asks a person
 * before any tool touches one; `thoth policy init` writes the same rule into a starter policy.
 */
export const CREDENTIAL_FILES: ReadonlyArray<{glob: string; example: string}> = [
  {glob: '~/.ssh/**', example: '~/.ssh/id_ed25519'},
  {glob: '~/.aws/**', example: '~/.aws/credentials'},
  {glob: '~/.gnupg/**', example: '~/.gnupg/private-keys-v1.d/key.key'},
  {glob: '~/.kube/**', example: '~/.kube/config'},
  {glob: '~/.docker/config.json', example: '~/.docker/config.json'},
  {glob: '~/.netrc', example: '~/.netrc'},
  {glob: '~/.git-credentials', example: '~/.git-credentials'},
  {glob: '~/.npmrc', example: '~/.npmrc'},
  {glob: '~/.pypirc', example: '~/.pypirc'},
  {glob: '~/.config/gcloud/**', example: '~/.config/gcloud/application_default_credentials.json'},
  {glob: '~/.azure/**', example: '~/.azure/msal_token_cache.json'},
  {glob: '~/Library/Keychains/**', example: '~/Library/Keychains/login.keychain-db'},
  {glob: '/etc/shadow', example: '/etc/shadow'},
  {glob: '/etc/sudoers', example: '/etc/sudoers'},
  {glob: '/etc/sudoers.d/**', example: '/etc/sudoers.d/admins'},
];

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
      args: {'*': {path_glob: CREDENTIAL_FILES.map((file) => file.glob)}},
      decision: 'step_up',
      reason: 'the call names a file that usually holds credentials',
    },
  ],
};
