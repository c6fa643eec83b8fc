/**
 * The audit trail's defaults, kept with the settings table that documents them (THOTH_AUDIT_*):
 * the trail reads its settings only through the resolver (audit/settings.ts
 * auditSettingsFromResolved), so these values are the one source of truth.
 */
export type FsyncMode = 'batched' | 'always';

export const AUDIT_DEFAULTS = {
  fsync: 'batched' as FsyncMode,
  fsyncWindowMs: 20,
  rotateBytes: 16 * 1024 * 1024,
  rotateAgeMs: 24 * 60 * 60 * 1000,
  contentMaxBytes: 32 * 1024,
};

export const AUDIT_KEY_FILE_NAME = 'audit_hmac_key.json';
