import type {Principal} from '../admin-auth.js';
import type {PolicyOverview} from '../central-policy.js';
import type {ShippedEventView} from '../event-search.js';
import type {PinReview} from '../fleet-pins.js';
import type {EndpointFilter, EndpointView} from '../fleet-view.js';
import type {TenantListing} from '../tenants.js';
import {lineDiff} from './diff.js';
import {csrfField, escape, header, time} from './html.js';

/** The pages beyond the approval queue: pure renderers of what the routes read (app.ts). */

export const FLEET_FILTERS: ReadonlyArray<[EndpointFilter | '', string]> = [
  ['', 'All endpoints'],
  ['stale', 'Not seen for 24 h'],
  ['drift', 'Drift'],
  ['old-version', 'Old version'],
  ['violations', 'Audit violations'],
  ['policy-behind', 'Policy behind'],
];

export function fleetPage(principal: Principal, endpoints: EndpointView[], filter: EndpointFilter | undefined): string {
  return `${header(principal, 'Fleet', '/ui/fleet')}
<form method="get" action="/ui/fleet" class="filters"><div><label for="filter">Show</label><select id="filter" name="filter">
${FLEET_FILTERS.map(([value, name]) => `<option value="${value}"${value === (filter ?? '') ? ' selected' : ''}>${escape(name)}</option>`).join('')}
</select></div><button type="submit">Filter</button></form>
<table id="endpoints"><caption>${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}</caption><thead><tr><th scope="col">Endpoint</th><th scope="col">Tenant</th><th scope="col">User</th><th scope="col">thoth</th><th scope="col">Last heartbeat</th><th scope="col">Governed / drift</th><th scope="col">Policy</th><th scope="col">Audit</th></tr></thead><tbody>
${endpoints
  .map(
    (
      e,
    ) => `<tr data-endpoint-id="${escape(e.endpointId)}"><th scope="row">${escape(e.endpointId)}<br><small>${escape(e.hostname)} · ${escape(e.identitySource)} · ${escape(e.os.platform)}</small></th>
<td>${escape(e.tenant)}</td><td>${escape(e.userId ?? '-')}</td><td>${escape(e.thothVersion)}</td><td>${time(e.lastSeenAt)}</td>
<td>${e.governed ? `${e.governed.governed} / ${e.governed.drift > 0 ? `<span class="bad">${e.governed.drift}</span>` : '0'}` : '-'}</td>
<td>${escape(e.policyVersion ?? '-')}</td>
<td>${e.audit.state === 'violation' ? `<span class="bad">violation</span>: ${escape(e.audit.lastViolation ?? '')}` : escape(e.audit.state)} <small>(${e.audit.chains} chains, ${e.audit.events} events)</small></td></tr>`,
  )
  .join('\n')}
</tbody></table>`;
}

export function policyPage(
  principal: Principal,
  tenants: TenantListing[],
  overview: PolicyOverview | undefined,
  notice: {uploaded?: string; problems?: string[]; source?: string} = {},
): string {
  const tenantLinks = `<ul class="tenants">${tenants
    .map(
      (t) =>
        `<li><a href="/ui/policy?tenant=${encodeURIComponent(t.name)}"${overview?.tenant === t.name ? ' aria-current="true"' : ''}>${escape(t.name)}</a></li>`,
    )
    .join('')}</ul>`;
  if (overview === undefined) {
    return `${header(principal, 'Policy', '/ui/policy')}<h2>Tenants</h2>${tenants.length ? tenantLinks : '<p>No tenant yet (thoth server tenant create NAME).</p>'}`;
  }
  const canUpload = principal.role === 'admin';
  return `${header(principal, `Policy of ${overview.tenant}`, '/ui/policy')}<h2>Tenants</h2>${tenantLinks}
${notice.uploaded ? `<p role="status" class="notice">Uploaded version ${escape(notice.uploaded)}.</p>` : ''}
${notice.problems ? `<div role="alert" class="problem"><p>The policy is not valid; nothing changed:</p><ul>${notice.problems.map((text) => `<li>${escape(text)}</li>`).join('')}</ul></div>` : ''}
<section aria-labelledby="current-title"><h2 id="current-title">Current version</h2>
${overview.current ? `<p>${escape(overview.current.version)}, uploaded by ${escape(overview.current.uploadedBy)} at ${time(overview.current.uploadedAt)}</p><pre aria-label="Current policy">${escape(overview.current.source)}</pre>` : '<p>No central policy: the endpoints decide with their own.</p>'}</section>
<section aria-labelledby="running-title"><h2 id="running-title">Which endpoints run which version</h2><table><thead><tr><th scope="col">Version</th><th scope="col">Endpoints</th></tr></thead><tbody>
${overview.endpointsByVersion.map((row) => `<tr><td>${escape(row.version ?? 'none yet')}</td><td>${row.endpoints}</td></tr>`).join('')}</tbody></table></section>
<section aria-labelledby="history-title"><h2 id="history-title">Versions</h2><table><thead><tr><th scope="col">Version</th><th scope="col">By</th><th scope="col">At</th></tr></thead><tbody>
${overview.history.map((row) => `<tr><td>${escape(row.version)}</td><td>${escape(row.uploadedBy)}</td><td>${time(row.uploadedAt)}</td></tr>`).join('')}</tbody></table></section>
${
  canUpload
    ? `<section aria-labelledby="upload-title"><h2 id="upload-title">Upload a new version</h2><form method="post" action="/ui/policy?tenant=${encodeURIComponent(overview.tenant)}">${csrfField(principal)}
<label for="source">Policy (JSON, checked as thoth policy validate checks it)</label><textarea id="source" name="source" required spellcheck="false">${escape(notice.source ?? overview.current?.source ?? '')}</textarea>
<button type="submit">Upload</button></form></section>`
    : ''
}`;
}

export const EVENT_FIELDS: ReadonlyArray<[name: string, label: string]> = [
  ['q', 'Text'],
  ['endpoint', 'Endpoint'],
  ['type', 'Event type'],
  ['tool', 'Tool'],
  ['agent', 'Agent'],
  ['decision', 'Decision'],
];

export function eventsPage(principal: Principal, query: URLSearchParams, events: ShippedEventView[]): string {
  const exportQuery = new URLSearchParams([...query].filter(([name]) => EVENT_FIELDS.some(([field]) => field === name) && query.get(name)));
  const exportLink = (format: string, name: string) => {
    const params = new URLSearchParams(exportQuery);
    params.set('format', format);
    params.set('limit', '10000');
    return `<a href="/api/admin/v1/events?${escape(params.toString())}" download>${name}</a>`;
  };
  return `${header(principal, 'Events', '/ui/events')}
<form method="get" action="/ui/events" class="filters">${EVENT_FIELDS.map(
    ([name, label]) =>
      `<div><label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" value="${escape(query.get(name) ?? '')}"></div>`,
  ).join('')}<button type="submit">Search</button></form>
<p>Export these: ${exportLink('jsonl', 'JSON Lines')} · ${exportLink('ocsf', 'OCSF')}</p>
<table id="events"><caption>${events.length} event${events.length === 1 ? '' : 's'} (newest first)</caption><thead><tr><th scope="col">When</th><th scope="col">Tenant</th><th scope="col">Endpoint</th><th scope="col">Type</th><th scope="col">Agent</th><th scope="col">Tool</th><th scope="col">Decision</th><th scope="col">Chain · seq</th></tr></thead><tbody>
${events
  .map((view) => {
    const event = view.event as unknown as Record<string, unknown>;
    const text = (name: string) => escape(typeof event[name] === 'string' ? (event[name] as string) : '');
    return `<tr><td>${time(view.event.timestamp)}</td><td>${escape(view.tenant)}</td><td>${escape(view.endpointId)}</td><td>${text('type')}</td><td>${text('agentId')}</td><td>${text('toolName')}</td><td>${text('decision')}</td><td><small>${escape(view.chain)} · ${view.seq}</small></td></tr>`;
  })
  .join('\n')}
</tbody></table>`;
}

export function pinsPage(principal: Principal, pending: PinReview[], decided: PinReview[]): string {
  const canDecide = principal.role === 'admin';
  return `${header(principal, 'Fleet pins', '/ui/pins')}
<p>A tool definition that changed on an endpoint waits here. Approve it once and every endpoint of the tenant pins the new definition; reject it and they keep refusing the tool.</p>
<section aria-labelledby="pending-title"><h2 id="pending-title">Waiting for review</h2>
${pending.length === 0 ? '<p class="empty">No changed tool definition is waiting.</p>' : pending.map((review) => reviewCard(review, principal, canDecide)).join('\n')}</section>
<section aria-labelledby="decided-title"><h2 id="decided-title">Decided</h2><table><thead><tr><th scope="col">Tenant</th><th scope="col">Tool</th><th scope="col">Change</th><th scope="col">Decision</th><th scope="col">By</th><th scope="col">Comment</th></tr></thead><tbody>
${decided
  .map(
    (r) =>
      `<tr><td>${escape(r.tenant)}</td><td>${escape(r.tool)}</td><td><small>${escape(r.fromSha256.slice(0, 12))} → ${escape(r.toSha256.slice(0, 12))}</small></td><td>${escape(r.state)}</td><td>${escape(r.decidedBy ?? '')}</td><td>${escape(r.comment ?? '')}</td></tr>`,
  )
  .join('\n')}</tbody></table></section>`;
}

function reviewCard(review: PinReview, principal: Principal, canDecide: boolean): string {
  const id = escape(review.id);
  const shown = (definition: unknown) => (definition === null || definition === undefined ? '' : JSON.stringify(definition, null, 2));
  const diff =
    review.fromDefinition == null || review.toDefinition == null
      ? '<p>The definitions were not shipped (too large): compare them on an endpoint with thoth pins list.</p>'
      : `<pre class="diff" aria-label="Changes to the definition: lines starting with minus were removed, plus were added">${lineDiff(
          shown(review.fromDefinition),
          shown(review.toDefinition),
        )
          .map(
            (line) =>
              `<span class="${line.kind}">${line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}${escape(line.text)}</span>`,
          )
          .join('')}</pre>`;
  return `<article class="review" data-review-id="${id}" aria-labelledby="r-${id}">
<h3 id="r-${id}">${escape(review.tool)} <span class="agent">(${escape(review.tenant)})</span></h3>
<dl><dt>Agents</dt><dd>${escape(review.agentIds.join(', ') || '-')}</dd><dt>Endpoints</dt><dd>${escape(review.endpoints.join(', '))}</dd>
<dt>First seen</dt><dd>${time(review.firstSeenAt)}</dd><dt>Change</dt><dd><small>${escape(review.fromSha256)} → ${escape(review.toSha256)}</small></dd></dl>
${diff}
${
  canDecide
    ? `<form method="post" action="/ui/pins/${encodeURIComponent(review.id)}/decision">${csrfField(principal)}
<label for="pc-${id}">Comment (optional)</label><input id="pc-${id}" name="comment" maxlength="2000">
<button type="submit" name="decision" value="approve">Approve for the fleet</button> <button type="submit" name="decision" value="reject">Reject</button></form>`
    : ''
}</article>`;
}
