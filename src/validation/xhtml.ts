import { format, type Language, type Localized } from '../i18n/language.js';

/**
 * Narrative checks (txt-1, txt-2: the `htmlChecks()` function that fhirpath.js does not implement).
 * A small tokenizer, not a full XML parser: it checks what the spec asks of Narrative.div, namely
 * one <div> root in the XHTML namespace, well-formed nesting, only the basic formatting elements,
 * no scripts, event handlers or javascript: links, and some non-whitespace content.
 */

/** The elements the FHIR narrative rules allow (the HL7 validator's list). */
const ALLOWED = new Set([
  'a', 'abbr', 'acronym', 'address', 'area', 'b', 'bdo', 'big', 'blockquote', 'br', 'caption', 'cite', 'code', 'col',
  'colgroup', 'dd', 'dfn', 'div', 'dl', 'dt', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'kbd', 'li',
  'map', 'ol', 'p', 'pre', 'q', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th',
  'thead', 'tr', 'tt', 'ul', 'var', 'u', 's', 'del', 'ins', 'strike', 'center', 'font',
]);

const VOID = new Set(['br', 'hr', 'img', 'col', 'area']);

const PROBLEMS = {
  root: {
    en: 'it must be a single <div> element',
    nl: 'het moet één enkel <div>-element zijn',
    fr: 'ce doit être un seul élément <div>',
  },
  namespace: {
    en: 'the <div> must declare xmlns="http://www.w3.org/1999/xhtml"',
    nl: 'de <div> moet xmlns="http://www.w3.org/1999/xhtml" vermelden',
    fr: 'le <div> doit déclarer xmlns="http://www.w3.org/1999/xhtml"',
  },
  element: {
    en: 'the element <{name}> is not allowed in a narrative (only basic formatting such as p, b, i, span, table, ul, a, img)',
    nl: 'het element <{name}> is niet toegelaten in een narratief (enkel basisopmaak zoals p, b, i, span, table, ul, a, img)',
    fr: "l'élément <{name}> n'est pas permis dans un texte narratif (seulement la mise en forme de base comme p, b, i, span, table, ul, a, img)",
  },
  attribute: {
    en: 'the attribute {name} is not allowed (no scripts or event handlers)',
    nl: 'het attribuut {name} is niet toegelaten (geen scripts of event handlers)',
    fr: "l'attribut {name} n'est pas permis (pas de scripts ni de gestionnaires d'événements)",
  },
  nesting: {
    en: 'the tags are not well nested near <{name}>',
    nl: 'de tags zijn niet correct genest rond <{name}>',
    fr: 'les balises ne sont pas correctement imbriquées près de <{name}>',
  },
  unclosed: {
    en: 'the element <{name}> is not closed',
    nl: 'het element <{name}> wordt niet afgesloten',
    fr: "l'élément <{name}> n'est pas fermé",
  },
  syntax: {
    en: 'it is not well-formed XML near "{near}"',
    nl: 'het is geen goedgevormde XML rond "{near}"',
    fr: "ce n'est pas du XML bien formé près de \"{near}\"",
  },
  empty: {
    en: 'it has no content; a narrative must contain some text (txt-2)',
    nl: 'het heeft geen inhoud; een narratief moet tekst bevatten (txt-2)',
    fr: "il n'a pas de contenu; un texte narratif doit contenir du texte (txt-2)",
  },
} satisfies Record<string, Localized>;

function problem(id: keyof typeof PROBLEMS, lang: Language, params: Record<string, unknown> = {}): string {
  return format(PROBLEMS[id][lang], params);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 58 || c === 95 || c === 45 || c === 46;
}

function hasNonSpace(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(s.charCodeAt(i))) return true;
  return false;
}

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/**
 * Returns a localized description of the first problem, or undefined when the div is valid.
 * A hand-written scanner: narratives are on most resources, and regexes over them cost more
 * than the whole rest of a Patient's validation.
 */
export function validateXhtml(div: string, lang: Language): string | undefined {
  const stack: string[] = [];
  const n = div.length;
  let i = 0;
  let sawRoot = false;
  let hasContent = false;
  while (i < n) {
    const lt = div.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i && (stack.length === 0 || !hasContent) && hasNonSpace(div, i, textEnd)) {
      if (stack.length === 0) return problem('root', lang);
      hasContent = true;
    }
    if (lt < 0) break;
    i = lt;
    const c1 = div.charCodeAt(i + 1);
    if (c1 === 33 /* ! */) {
      if (div.startsWith('<!--', i)) {
        const end = div.indexOf('-->', i + 4);
        if (end < 0) return problem('syntax', lang, { near: div.slice(i, i + 20) });
        i = end + 3;
        continue;
      }
      if (div.startsWith('<![CDATA[', i)) {
        const end = div.indexOf(']]>', i);
        if (end < 0 || stack.length === 0) return problem('syntax', lang, { near: div.slice(i, i + 20) });
        if (hasNonSpace(div, i + 9, end)) hasContent = true;
        i = end + 3;
        continue;
      }
      return problem('syntax', lang, { near: div.slice(i, i + 20) });
    }
    if (c1 === 63 /* ? */) {
      const end = div.indexOf('?>', i + 2);
      if (end < 0 || sawRoot) return problem('syntax', lang, { near: div.slice(i, i + 20) });
      i = end + 2;
      continue;
    }
    const closing = c1 === 47; /* / */
    let j = closing ? i + 2 : i + 1;
    const nameStart = j;
    while (j < n && isNameChar(div.charCodeAt(j))) j++;
    if (j === nameStart) return problem('syntax', lang, { near: div.slice(i, i + 20) });
    const qname = div.slice(nameStart, j);
    const colon = qname.indexOf(':');
    const local = (colon >= 0 ? qname.slice(colon + 1) : qname).toLowerCase();
    if (closing) {
      while (j < n && isSpace(div.charCodeAt(j))) j++;
      if (div.charCodeAt(j) !== 62 /* > */) return problem('syntax', lang, { near: div.slice(i, i + 20) });
      if (stack.pop() !== qname) return problem('nesting', lang, { name: qname });
      i = j + 1;
      continue;
    }
    // Attributes, up to > or />.
    let selfClosing = false;
    let xmlns: string | undefined;
    while (true) {
      while (j < n && isSpace(div.charCodeAt(j))) j++;
      if (j >= n) return problem('syntax', lang, { near: div.slice(i, i + 20) });
      const c = div.charCodeAt(j);
      if (c === 62) {
        j++;
        break;
      }
      if (c === 47 && div.charCodeAt(j + 1) === 62) {
        selfClosing = true;
        j += 2;
        break;
      }
      const attrStart = j;
      while (j < n && isNameChar(div.charCodeAt(j))) j++;
      if (j === attrStart) return problem('syntax', lang, { near: div.slice(i, i + 20) });
      const attr = div.slice(attrStart, j);
      while (j < n && isSpace(div.charCodeAt(j))) j++;
      let value = '';
      if (div.charCodeAt(j) === 61 /* = */) {
        j++;
        while (j < n && isSpace(div.charCodeAt(j))) j++;
        const q = div.charCodeAt(j);
        if (q !== 34 && q !== 39) return problem('syntax', lang, { near: div.slice(i, i + 20) });
        const end = div.indexOf(q === 34 ? '"' : "'", j + 1);
        if (end < 0) return problem('syntax', lang, { near: div.slice(i, i + 20) });
        value = div.slice(j + 1, end);
        j = end + 1;
      }
      const a0 = attr.charCodeAt(0) | 32;
      const a1 = attr.charCodeAt(1) | 32;
      if (a0 === 111 /* o */ && a1 === 110 /* n */) return problem('attribute', lang, { name: attr });
      if (attr === 'href' || attr === 'src') {
        const v = value.trim().toLowerCase();
        if (v.startsWith('javascript:') || v.startsWith('vbscript:')) return problem('attribute', lang, { name: attr });
      }
      if (attr === 'xmlns') xmlns = value;
    }
    if (stack.length === 0) {
      if (sawRoot || local !== 'div') return problem('root', lang);
      sawRoot = true;
      if (xmlns !== XHTML_NS) return problem('namespace', lang);
    }
    if (!ALLOWED.has(local)) return problem('element', lang, { name: local });
    if (local === 'img') hasContent = true;
    i = j;
    if (!selfClosing && !VOID.has(local)) stack.push(qname);
    else if (!selfClosing && div.startsWith(`</${qname}>`, i)) {
      // XHTML wants <br/>; <br></br> is balanced too.
      i += qname.length + 3;
    }
  }
  if (!sawRoot) return problem('root', lang);
  if (stack.length) return problem('unclosed', lang, { name: stack[stack.length - 1] });
  if (!hasContent) return problem('empty', lang);
  return undefined;
}
