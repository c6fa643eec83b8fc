import {CREDENTIAL_FILES} from './builtin-policy.js';

const credentialGlobs = CREDENTIAL_FILES.map((file) => JSON.stringify(file.glob)).join(', ');

/**
 * What `thoth policy init` writes: the built-in policy's behaviour (progressive mode, credential
 * files need approval) spelt out, plus a worked example for a filesystem, a shell and a database
 * server. JSONC: the comments are the documentation a first-time author reads. Shipped too as
 * examples/policies/starter.jsonc (a test keeps the two identical).
 */
export const STARTER_POLICY = `// thoth policy: which tool calls of which MCP server are allowed, blocked, or need a person's approval.
// Written by \`thoth policy init\`. Check it with \`thoth policy validate\`, try a call with
// \`thoth policy explain --agent-id NAME --tool TOOL --args '{...}'\`. Running sessions pick up a
// change within seconds. Every field: schemas/policy.schema.json; the guide: docs/policy.md.
//
// How a call is decided: thoth's own files (profile, approvals, audit trail, this policy) are
// always protected; then every rule that matches counts and the most restrictive wins
// (block > step_up > allow); then a tool in the server's approved_scope is allowed; then the mode.
{
  "$schema": "https://thoth.dev/schemas/policy.schema.json",
  "version": "starter-1",
  "description": "Starter policy: progressive mode, credential files need approval, examples for a filesystem, a shell and a database server.",

  // For every server the policy does not name below. progressive: learn what each server normally
  // does, then ask a person about anything new. Others: step_up (ask about everything outside the
  // approved scope), block (refuse it), observe (allow all, record what block would have done).
  "defaults": {"mode": "progressive"},

  // Rules for every server. Keep this one: without a policy file thoth asks before any tool
  // touches a credential file, and a policy file replaces that default.
  "rules": [
    {
      "id": "credential-files",
      "tool": "*",
      "args": {"*": {"path_glob": [${credentialGlobs}]}},
      "decision": "step_up",
      "reason": "the call names a file that usually holds credentials"
    }
  ],

  // One entry per server, by the name it has in the client config (\`thoth status\` lists them;
  // wrap-config passes it as --agent-id). Rename or delete these examples to fit your servers.
  "agents": {
    // The official filesystem server (@modelcontextprotocol/server-filesystem): reading is its job,
    // changing files needs a person, and nothing under ~/.config may change at all.
    "filesystem": {
      "approved_scope": ["read_text_file", "read_media_file", "read_multiple_files", "list_directory", "list_directory_with_sizes", "directory_tree", "search_files", "get_file_info", "list_allowed_directories"],
      "rules": [
        {
          "id": "filesystem-changes-need-approval",
          "tool": ["write_file", "edit_file", "move_file", "create_directory"],
          "decision": "step_up",
          "reason": "changing files needs a person's approval"
        },
        {
          "id": "filesystem-no-config-changes",
          "tool": ["write_file", "edit_file", "move_file"],
          "args": {"*": {"path_within": "~/.config"}},
          "decision": "block",
          "reason": "application settings under ~/.config are not changed by agents"
        }
      ]
    },

    // A shell server (a tool that runs a command line, here in the argument "command"): every
    // command needs a person's approval, a few read-only ones do not, the destructive ones are refused.
    "shell": {
      "mode": "step_up",
      "lock_mode": true,
      "rules": [
        {
          "id": "shell-read-only-commands",
          "tool": "*",
          "args": {"command": {"regex": "^(ls|pwd|whoami|date|git (status|log|diff))( [^;&|\`$()<>]*)?$"}},
          "decision": "allow",
          "reason": "a read-only command"
        },
        {
          "id": "shell-no-download-and-run",
          "tool": "*",
          "args": {"command": {"regex": "(curl|wget)[^|]*\\\\|\\\\s*(sudo\\\\s+)?(sh|bash|zsh)\\\\b"}},
          "decision": "block",
          "reason": "downloading a script and running it is refused"
        },
        {
          "id": "shell-no-recursive-delete",
          "tool": "*",
          "args": {"command": {"regex": "\\\\brm\\\\s+(-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)\\\\b"}},
          "decision": "block",
          "reason": "recursive deletion is refused"
        }
      ]
    },

    // A database server (a tool that runs SQL, here in the argument "sql"): reading is allowed,
    // anything that changes data or schema needs a person, dropping or truncating is refused.
    "database": {
      "approved_scope": ["query", "list_tables", "describe_table"],
      "rules": [
        {
          "id": "database-changes-need-approval",
          "tool": "*",
          "args": {"sql": {"regex": "\\\\b(insert|update|delete|merge|create|alter|grant|revoke|copy)\\\\b", "ignore_case": true}},
          "decision": "step_up",
          "reason": "changing data or schema needs a person's approval"
        },
        {
          "id": "database-no-drop",
          "tool": "*",
          "args": {"sql": {"regex": "\\\\b(drop|truncate)\\\\b", "ignore_case": true}},
          "decision": "block",
          "reason": "dropping or truncating is refused"
        }
      ]
    }
  },

  // How long an approval given with \`thoth approve\` holds, and whether the client's own prompt
  // asks the user first (when the client supports it).
  "approvals": {"ttl_seconds": 600, "elicitation": true}
}
`;
