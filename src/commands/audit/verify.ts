import {Args} from '@oclif/core';

import {EXIT_FOR_STATUS, verifyAudit} from '../../audit/api.js';
import {keyFlags, locationFlags, resolveAuditLocation} from '../../audit/command-flags.js';
import {formatVerifyReport} from '../../audit/format.js';
import type {VerifyReport} from '../../audit/verify.js';
import {BaseCommand} from '../../cli/base-command.js';

export type AuditVerifyResult = VerifyReport;

export default class AuditVerify extends BaseCommand<AuditVerifyResult> {
  static override summary = 'Check that the audit trail was not edited, reordered, truncated or swapped.';
  static override description =
    'Replays every hash chain and HMAC in the audit directory (or one file). Exit 0 when intact, 12 (AUDIT_TAMPERED) when records were altered or an approval was ' +
    'used that nobody is on record granting (APPROVAL_USED without its sealed APPROVAL_GRANTED, or used twice), 13 (AUDIT_TORN_TAIL) when the only defects are left ' +
    'by a crash; the first broken record is printed with its file and line.';
  static override examples = [
    '<%= config.bin %> audit verify',
    '<%= config.bin %> audit verify ~/.thoth/audit --json',
    '<%= config.bin %> audit verify copy-of-audit/ --key-file key.json',
  ];
  static override args = {
    path: Args.string({
      description: 'Audit directory or one of its files (default: --audit-dir, else the audit directory).',
      required: false,
    }),
  };
  static override flags = {...locationFlags, ...keyFlags};

  async run(): Promise<AuditVerifyResult> {
    const {args, flags} = await this.parse(AuditVerify);
    const {location, warnings} = await resolveAuditLocation(flags);
    for (const warning of warnings) this.note(warning);
    // No trail is not an intact trail: a deleted directory must not verify. PATH wins over --audit-dir.
    const report = await verifyAudit(args.path, location);
    this.setExitCode(EXIT_FOR_STATUS[report.status]);
    if (!this.jsonEnabled()) this.log(formatVerifyReport(report));
    return report;
  }
}
