import {readFileSync} from 'node:fs';

import fc from 'fast-check';
import {describe, expect, it} from 'vitest';

import {foldKey} from '../../src/core/fold-key.js';
import type {PolicyDocument} from '../../src/policy/model.js';
import {compile, decideCall} from './policy-helpers.js';

const ORBITS = new URL('../../fixtures/unicode/go-simple-fold-orbits.txt', import.meta.url);

describe('foldKey', () => {
  it.each([
    ['path', 'PATH'],
    ['paTh', 'PATH'],
    ['\u017F', 'S'], // ſ long s
    ['\u212A', 'K'], // Kelvin sign
    ['\u00DF', '\u00DF'], // ß stays ß
    ['\u1E9E', '\u00DF'], // ẞ capital sharp s
    ['\u0131', 'I'], // ı dotless i
    ['\u0130', 'I'], // İ dotted capital I
    ['i', 'I'],
    ['Pa\u017Fsword', 'PASSWORD'],
  ])('%s → %s', (key, folded) => {
    expect(foldKey(key)).toBe(folded);
  });

  it.each([
    ['\u00B5', '\u03BC', '\u039C'], // µ micro, μ, Μ
    ['\u03D1', '\u03B8', '\u0398', '\u03F4'], // ϑ θ Θ ϴ
    ['\u01C5', '\u01C6', '\u01C4'], // ǅ ǆ Ǆ
    ['\u03C2', '\u03C3', '\u03A3'], // ς σ Σ
    ['\u0131', 'I', 'i', '\u0130'], // ı I i İ
    ['k', 'K', '\u212A'],
    ['s', 'S', '\u017F'],
  ])('%s %s %s fold alike', (...keys) => {
    expect(new Set(keys.map(foldKey)).size).toBe(1);
  });

  it('keeps apart what no server folds together', () => {
    expect(foldKey('ss')).not.toBe(foldKey('\u00DF'));
    expect(foldKey('path')).not.toBe(foldKey('paths'));
    expect(foldKey('a')).not.toBe(foldKey('\u00E0'));
  });

  it("folds every orbit of Go's unicode.SimpleFold to one key (captured from go1.19)", () => {
    const lines = readFileSync(ORBITS, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(1000);
    const split = lines.filter((line) => {
      const members = line.split(' ').map((hex) => String.fromCodePoint(Number.parseInt(hex, 16)));
      return new Set(members.map(foldKey)).size !== 1;
    });
    expect(split).toEqual([]);
  });

  it('is closed under single-code-point case mappings, idempotent and length-preserving (every code point)', () => {
    const problems: string[] = [];
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const character = String.fromCodePoint(codePoint);
      const folded = foldKey(character);
      // The key matcher compares lengths before folding.
      if (folded.length !== character.length) problems.push(`${codePoint.toString(16)}: length`);
      if (foldKey(folded) !== folded) problems.push(`${codePoint.toString(16)}: not idempotent`);
      for (const mapped of [character.toLowerCase(), character.toUpperCase()]) {
        if ([...mapped].length === 1 && foldKey(mapped) !== folded) problems.push(`${codePoint.toString(16)}: ${mapped} folds elsewhere`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('strings equal after toLowerCase fold alike (property, single-code-point mappings)', () => {
    // Characters whose case mappings are single code points, from every script with case.
    const cased = fc
      .integer({min: 0, max: 0x1e943})
      .map((codePoint) => String.fromCodePoint(codePoint >= 0xd800 && codePoint <= 0xdfff ? 0x41 : codePoint))
      .filter((character) => [...character.toLowerCase()].length === 1 && [...character.toUpperCase()].length === 1);
    const variant = (character: string) => fc.constantFrom(character, character.toLowerCase(), character.toUpperCase());
    fc.assert(
      fc.property(
        fc
          .array(cased, {maxLength: 12})
          .chain((characters) =>
            fc
              .tuple(fc.tuple(...characters.map(variant)), fc.tuple(...characters.map(variant)))
              .map(([a, b]) => [a.join(''), b.join('')] as const),
          ),
        ([a, b]) => {
          if (a.toLowerCase() === b.toLowerCase()) expect(foldKey(a)).toBe(foldKey(b));
        },
      ),
      {numRuns: 500},
    );
    fc.assert(
      fc.property(fc.string({unit: 'binary', maxLength: 16}), fc.string({unit: 'binary', maxLength: 16}), (a, b) => {
        const single = (text: string) => [...text].every((c) => [...c.toLowerCase()].length === 1 && [...c.toUpperCase()].length === 1);
        if (single(a) && single(b) && a.toLowerCase() === b.toLowerCase()) expect(foldKey(a)).toBe(foldKey(b));
      }),
      {numRuns: 500},
    );
  });
});

describe('argument rules select every key that folds to theirs', () => {
  const BLOCK: PolicyDocument = {
    agents: {fs: {approved_scope: '*'}},
    rules: [
      {id: 'ssh', tool: '*', args: {path: {path_glob: '~/.ssh/**'}}, decision: 'block'},
      {id: 'nested', tool: '*', args: {'/options/kind': {equals: 'raw'}}, decision: 'step_up'},
      {id: 'forced', tool: 'rm', args: {force: {present: true}}, decision: 'block'},
    ],
  };

  it.each([
    [{path: '~/.ssh/id_rsa'}, 'rule:ssh'],
    [{PATH: '~/.ssh/id_rsa'}, 'rule:ssh'],
    [{paTh: '~/.ssh/id_rsa'}, 'rule:ssh'],
    [{patħ: '~/.ssh/id_rsa'}, 'scope:approved'], // ħ is no h
    [{'p\u0041th': '~/.ssh/id_rsa'}, 'rule:ssh'],
    [{path: '~/work/a', PATH: '~/.ssh/id_rsa'}, 'rule:ssh'],
    [{path: ['~/work/a'], Path: ['~/work/b', '~/.ssh/config']}, 'rule:ssh'],
    [{options: {kind: 'raw'}}, 'rule:nested'],
    [{OPTIONS: {Kind: 'raw'}}, 'rule:nested'],
    [{Options: {Kind: 'raw'}}, 'rule:nested'], // Kelvin sign
    [{options: {kind: 'cooked'}, optiſns: {kind: 'raw'}}, 'scope:approved'], // ſ is not o: a different key
    [{optionS: {kind: 'cooked'}, OPTIONS: {KIND: 'raw'}}, 'rule:nested'],
  ])('block and step_up rules: %j → %s', (args, ruleId) => {
    expect(decideCall(compile(BLOCK), 'read', args).ruleId).toBe(ruleId);
  });

  it('present: true of a block rule counts a folded key as present', () => {
    const policy = compile(BLOCK);
    expect(decideCall(policy, 'rm', {FORCE: true}).ruleId).toBe('rule:forced');
    expect(decideCall(policy, 'rm', {ſorce: true}).ruleId).toBe('scope:approved'); // ſorce: ſ folds to S, not F
    expect(decideCall(policy, 'rm', {Force: true}).ruleId).toBe('rule:forced');
    expect(decideCall(policy, 'rm', {}).ruleId).toBe('scope:approved');
  });

  it('an allow rule holds only if the values under every spelling satisfy it', () => {
    const allow = compile({
      agents: {fs: {approved_scope: [], rules: [{id: 'ws', tool: 'read', args: {path: {path_within: '~/work'}}, decision: 'allow'}]}},
    });
    expect(decideCall(allow, 'read', {path: '~/work/a'}).ruleId).toBe('rule:ws');
    expect(decideCall(allow, 'read', {PATH: '~/work/a'}).ruleId).toBe('rule:ws');
    expect(decideCall(allow, 'read', {path: '~/work/a', PATH: '~/.ssh/id_rsa'}).ruleId).toBe('mode:block');
    expect(decideCall(allow, 'read', {Path: '/etc/passwd', path: '~/work/a'}).ruleId).toBe('mode:block');
    expect(decideCall(allow, 'read', {path: '~/work/a', PATH: '~/work/b'}).ruleId).toBe('rule:ws');
  });

  it('present: false holds for an allow rule only if no key folds to it, for a block rule if the exact key is missing', () => {
    const policy = compile({
      agents: {fs: {approved_scope: [], rules: [{id: 'no-sudo', tool: 'run', args: {sudo: {present: false}}, decision: 'allow'}]}},
      rules: [{id: 'need-reason', tool: 'run', args: {reason: {present: false}}, decision: 'step_up'}],
    });
    expect(decideCall(policy, 'run', {reason: 'r'}).ruleId).toBe('rule:no-sudo');
    expect(decideCall(policy, 'run', {reason: 'r', SUDO: true}).ruleId).toBe('mode:block');
    expect(decideCall(policy, 'run', {reason: 'r', ſudo: true}).ruleId).toBe('mode:block');
    // A case-sensitive server sees no `reason`: the step-up applies.
    expect(decideCall(policy, 'run', {REASON: 'r'}).ruleId).toBe('rule:need-reason');
  });

  it('present: true of an allow rule needs the exact key (a case-sensitive server sees nothing else)', () => {
    const policy = compile({
      agents: {fs: {approved_scope: [], rules: [{id: 'confirmed', tool: 'run', args: {confirm: {present: true}}, decision: 'allow'}]}},
    });
    expect(decideCall(policy, 'run', {confirm: 1}).ruleId).toBe('rule:confirmed');
    expect(decideCall(policy, 'run', {CONFIRM: 1}).ruleId).toBe('mode:block');
  });
});
