import type {ServerResponse} from 'node:http';

import type {Principal} from '../admin-auth.js';
import {sendText} from '../http.js';

/** The pieces every page shares: the layout with its navigation, escaping, the style and the one script. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Every value a page shows comes from endpoints or people: escaped. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const SECTIONS: ReadonlyArray<[path: string, title: string]> = [
  ['/', 'Approvals'],
  ['/ui/fleet', 'Fleet'],
  ['/ui/policy', 'Policy'],
  ['/ui/events', 'Events'],
  ['/ui/pins', 'Fleet pins'],
];

export function page(res: ServerResponse, title: string, body: string, status = 200): void {
  sendText(
    res,
    status,
    'text/html; charset=utf-8',
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · thoth server</title><link rel="stylesheet" href="/ui/app.css"></head><body><main>${body}</main><script src="/ui/app.js"></script></body></html>`,
    {'content-security-policy': CSP},
  );
}

/** The heading of a signed-in page: its title, who is signed in, log out, and the sections. */
export function header(principal: Principal, title: string, current: string): string {
  return `<header><h1>${escape(title)}</h1><p>${escape(principal.actor)} (${principal.role})</p>
<form method="post" action="/ui/logout">${csrfField(principal)}<button type="submit">Log out</button></form></header>
<nav aria-label="Sections"><ul>${SECTIONS.map(
    ([path, name]) => `<li><a href="${path}"${path === current ? ' aria-current="page"' : ''}>${escape(name)}</a></li>`,
  ).join('')}</ul></nav>`;
}

export function csrfField(principal: Principal): string {
  return `<input type="hidden" name="_csrf" value="${escape(principal.csrfToken ?? '')}">`;
}

export function problem(text: string): string {
  return `<p role="alert" class="problem">${escape(text)}</p>`;
}

export function time(iso: string | null): string {
  return iso === null ? '-' : `<time datetime="${escape(iso)}">${escape(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time>`;
}

/** Refreshes the approval queue every second (only when no one is typing a comment in it). */
export const SCRIPT = `'use strict';
(() => {
  const queue = document.getElementById('queue');
  if (!queue) return;
  const refresh = async () => {
    if (queue.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') return;
    try {
      const answer = await fetch('/ui/queue', {credentials: 'same-origin', cache: 'no-store'});
      if (answer.ok) queue.innerHTML = await answer.text();
    } catch (error) {
      // Offline for a moment: the next round tries again.
    }
  };
  setInterval(refresh, 1000);
})();
`;

export const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fafafa}main{max-width:80rem;margin:0 auto;padding:1rem 2rem}
header{display:flex;gap:1rem;align-items:baseline;justify-content:space-between}h1{font-size:1.6rem}
nav ul{list-style:none;display:flex;gap:1.5rem;padding:0;margin:0 0 1rem;border-bottom:1px solid #ccc}nav a{display:inline-block;padding:.3rem 0}nav a[aria-current=page]{font-weight:700;border-bottom:3px solid #1a5fb4}
.approval,.review{background:#fff;border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}pre{background:#f3f3f3;padding:.5rem;overflow:auto;max-height:20rem}
label{display:block;font-weight:600;margin-top:.5rem}input,select,textarea{font:inherit;padding:.3rem;min-width:18rem}textarea{width:100%;min-height:12rem;font-family:monospace}
button{font:inherit;padding:.4rem 1rem;margin-top:.5rem}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #1a5fb4;outline-offset:2px}
.problem{color:#a00}.notice{color:#064}table{border-collapse:collapse;width:100%}caption{text-align:left;font-weight:600}th,td{text-align:left;padding:.3rem;border-bottom:1px solid #ddd;vertical-align:top}
.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:end}.filters input{min-width:10rem}.bad{color:#a00;font-weight:600}
.diff .added{background:#e6ffec;display:block}.diff .removed{background:#ffebe9;display:block}.diff .same{display:block}.login{max-width:24rem}`;
