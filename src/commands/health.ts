import {resolve} from 'node:path';

import {Flags} from '@oclif/core';

import {BaseCommand} from '../cli/base-command.js';
import {ExitCode} from '../core/exit-codes.js';
import {ThothError} from '../core/errors.js';
import {
  HEALTH_FIELDS,
  healthField,
  intuneDetection,
  jamfExtensionAttribute,
  renderHealthText,
  type HealthField,
} from '../fleet/health-format.js';
import {checkHealth, type HealthReport} from '../fleet/health.js';

export type HealthResult = HealthReport;

export default class Health extends BaseCommand<HealthResult> {
  static override summary = 'Report this endpoint’s health for people, scripts, Jamf and Intune.';
  static override description = [
    'Version (and THOTH_MIN_VERSION), endpoint identity, tenant/fleet/env, per-client governance (drift: entries not as wrap-config writes them, or not run by this installation), policy, audit chain, heartbeat and refused attempts to override managed settings, with an overall status and the reasons for anything not healthy.',
    'Exit codes: 0 healthy, 11 anything else. --format jamf-ea always exits 0 after printing exactly one <result>…</result>.',
    '--intune-detect prints one line and exits 0 only when thoth meets the minimum version and every server is governed; otherwise prints nothing and exits 1.',
  ].join('\n');

  static override examples = [
    '<%= config.bin %> health',
    '<%= config.bin %> health --json',
    '<%= config.bin %> health --format jamf-ea --field governed',
    '<%= config.bin %> health --intune-detect',
  ];

  static override flags = {
    format: Flags.string({
      options: ['text', 'jamf-ea'],
      default: 'text',
      description: 'Output format (jamf-ea: one <result>…</result> for an extension attribute).',
    }),
    field: Flags.string({options: [...HEALTH_FIELDS], description: 'With --format jamf-ea: the value to report (default status).'}),
    'intune-detect': Flags.boolean({
      description: 'Intune detection semantics: a line and exit 0 when detected, nothing and exit 1 otherwise.',
    }),
    'min-version': Flags.string({description: 'Minimum thoth version (overrides THOTH_MIN_VERSION).'}),
    'thoth-bin': Flags.string({
      multiple: true,
      description: 'A thoth executable given to `wrap-config --thoth-bin`: entries that run it count as this installation (repeatable).',
    }),
  };

  async run(): Promise<HealthResult | undefined> {
    const {flags} = await this.parse(Health);
    // Checked here rather than with oclif's `exclusive`, whose message is several lines long.
    if (flags.field !== undefined && flags.format !== 'jamf-ea') throw usage('--field needs --format jamf-ea');
    if (flags.format === 'jamf-ea' && (flags['intune-detect'] || this.jsonEnabled()))
      throw usage('--format jamf-ea cannot be combined with --json or --intune-detect');
    if (flags['intune-detect'] && this.jsonEnabled()) throw usage('--intune-detect cannot be combined with --json');
    const {report, warnings} = await checkHealth({
      version: this.config.version,
      ...(flags['thoth-home'] === undefined ? {} : {profileDir: flags['thoth-home']}),
      flags: {minVersion: flags['min-version']},
      ...(flags['thoth-bin'] === undefined ? {} : {thothBins: flags['thoth-bin'].map((bin) => (/[/\\]/.test(bin) ? resolve(bin) : bin))}),
    });
    if (flags['intune-detect']) {
      const detection = intuneDetection(report);
      if (detection.detected) this.log(detection.line);
      this.setExitCode(detection.detected ? ExitCode.OK : 1);
      return undefined;
    }
    for (const warning of warnings) this.note(warning);
    if (flags.format === 'jamf-ea') {
      this.log(jamfExtensionAttribute(healthField(report, (flags.field ?? 'status') as HealthField)));
      return undefined;
    }
    this.setExitCode(report.status === 'healthy' ? ExitCode.OK : ExitCode.NOT_GOVERNED);
    if (!this.jsonEnabled()) this.log(renderHealthText(report).trimEnd());
    return report;
  }
}

function usage(message: string): ThothError {
  return new ThothError('USAGE', message, {exitCode: ExitCode.USAGE, suggestions: ['Run `thoth health --help` for the formats.']});
}
