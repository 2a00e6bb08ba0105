/** The languages in which messages meant for care professionals are written. */
export const LANGUAGES = ['en', 'nl', 'fr'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';

/**
 * Picks the best supported language from an Accept-Language header (RFC 9110 weights).
 * Regional variants (nl-BE, fr-BE) count as their base language.
 */
export function negotiateLanguage(header: string | undefined): Language {
  if (!header) return DEFAULT_LANGUAGE;
  let best: Language | undefined;
  let bestWeight = 0;
  for (const part of header.split(',')) {
    const [tagRaw, ...paramsRaw] = part.trim().split(';');
    const tag = tagRaw.trim().toLowerCase();
    let weight = 1;
    for (const p of paramsRaw) {
      const [k, v] = p.trim().split('=');
      if (k === 'q') {
        const q = Number(v);
        weight = Number.isFinite(q) ? q : 0;
      }
    }
    const base = tag.split('-')[0];
    const lang = (LANGUAGES as readonly string[]).includes(base) ? (base as Language) : undefined;
    if (lang && weight > bestWeight) {
      best = lang;
      bestWeight = weight;
    }
  }
  return best ?? DEFAULT_LANGUAGE;
}

export type Localized = Record<Language, string>;

/** Fills `{name}` placeholders of a template. */
export function format(template: string, params: Record<string, unknown> = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, key: string) => (key in params ? String(params[key]) : m));
}

export function localize(text: Localized, lang: Language, params?: Record<string, unknown>): string {
  return format(text[lang] ?? text.en, params);
}
