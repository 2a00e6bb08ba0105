import { report, sourceSuffix, type Ctx, type Json } from './context.js';
import { message } from './messages.js';
import { inValueSet, type ValueSetIndex } from './terminology.js';

/** Checks one occurrence of a bound element; `item` is the JSON value of that occurrence. */
export type BindingCheck = (item: unknown, path: string, ctx: Ctx) => void;

/** Types a binding can apply to (eld-11). */
export const BINDABLE = new Set(['code', 'Coding', 'CodeableConcept', 'Quantity', 'string', 'uri']);

function codeList(vs: ValueSetIndex, ctx: Ctx): string {
  const shown = vs.sample.join(', ');
  return vs.size > vs.sample.length ? message('moreCodes', ctx.lang, { shown, count: vs.size }) : shown;
}


function label(vs: ValueSetIndex, source: string | undefined, ctx: Ctx): string {
  return vs.label + sourceSuffix(ctx, source);
}

/**
 * A required binding refuses codes outside the value set; an extensible one warns, as the HL7
 * validator does ("a code should come from this value set unless it has no suitable code").
 */
export function compileBinding(vs: ValueSetIndex, strength: 'required' | 'extensible', typeCode: string, source?: string): BindingCheck | undefined {
  const severity = strength === 'required' ? 'error' : 'warning';
  switch (typeCode) {
    case 'code':
    case 'string':
    case 'uri':
      return (item, path, ctx) => {
        if (typeof item === 'string' && !vs.codes.has(item)) {
          report(ctx, severity, 'code-invalid', path, 'codeNotInValueSet', { code: item, valueSet: label(vs, source, ctx), codes: codeList(vs, ctx) });
        }
      };
    case 'Coding':
    case 'Quantity':
      return (item, path, ctx) => {
        const c = item as Json;
        if (typeof c?.code === 'string' && !inValueSet(vs, c.system, c.code)) {
          const code = typeof c.system === 'string' ? `${c.system}#${c.code}` : c.code;
          report(ctx, severity, 'code-invalid', path, 'codeNotInValueSet', { code, valueSet: label(vs, source, ctx), codes: codeList(vs, ctx) });
        }
      };
    case 'CodeableConcept':
      return (item, path, ctx) => {
        const coding = (item as Json)?.coding;
        const found: string[] = [];
        if (Array.isArray(coding)) {
          for (const c of coding as Json[]) {
            if (typeof c?.code !== 'string') continue;
            if (inValueSet(vs, c.system, c.code)) return;
            found.push(typeof c.system === 'string' ? `${c.system}#${c.code}` : c.code);
          }
        }
        if (found.length === 0) {
          // Text only: allowed for extensible bindings ("if no code fits, text may be used"), not for required ones.
          if (strength === 'required') report(ctx, 'error', 'code-invalid', path, 'noCodeForRequired', { valueSet: label(vs, source, ctx), codes: codeList(vs, ctx) });
          return;
        }
        report(ctx, severity, 'code-invalid', path, strength === 'required' ? 'codingsNotInValueSet' : 'codingsNotInExtensible', {
          found: found.join(', '),
          valueSet: label(vs, source, ctx),
          codes: codeList(vs, ctx),
        });
      };
    default:
      return undefined;
  }
}
