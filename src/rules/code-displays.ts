import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Language } from '../i18n/language.js';

type Concept = { code: string; display?: string; designation?: { language?: string; value: string }[]; concept?: Concept[] };

/**
 * Displays of codes in Dutch, French and English, from the designations of the code systems in
 * profiles/ (CD-HCPARTY, the local icr-hcparty and icr-care-activity): what rule messages and
 * $gaps call a role or an activity.
 */
export class CodeDisplays {
  private readonly displays = new Map<string, Partial<Record<Language, string>>>();

  static load(profilesDir: string): CodeDisplays {
    const d = new CodeDisplays();
    for (const file of readdirSync(profilesDir)) {
      if (!file.startsWith('CodeSystem-') || !file.endsWith('.json')) continue;
      const cs = JSON.parse(readFileSync(join(profilesDir, file), 'utf8')) as { url: string; concept?: Concept[] };
      const walk = (concepts: Concept[] | undefined) => {
        for (const c of concepts ?? []) {
          const entry: Partial<Record<Language, string>> = {};
          if (c.display) entry.en = c.display;
          for (const des of c.designation ?? []) {
            const lang = des.language?.slice(0, 2);
            if (lang === 'nl' || lang === 'fr' || lang === 'en') entry[lang] = des.value;
          }
          d.displays.set(`${cs.url}|${c.code}`, entry);
          walk(c.concept);
        }
      };
      walk(cs.concept);
    }
    d.loadExpansion('ValueSet-c80-practice-codes.json');
    return d;
  }

  /** English displays of an official R4 expansion (the SNOMED CT practice settings used as specialties). */
  private loadExpansion(file: string): void {
    let path: string;
    try {
      path = join(dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.expansions/package.json')), file);
    } catch {
      return;
    }
    if (!existsSync(path)) return;
    const vs = JSON.parse(readFileSync(path, 'utf8')) as { expansion?: { contains?: { system?: string; code?: string; display?: string }[] } };
    for (const c of vs.expansion?.contains ?? []) {
      if (c.system && c.code && c.display && !this.displays.has(`${c.system}|${c.code}`)) this.displays.set(`${c.system}|${c.code}`, { en: c.display });
    }
  }

  /** The display in `lang`, else English, else the given fallback, else the code. */
  display(system: string | undefined, code: string | undefined, lang: Language, fallback?: string): string {
    const entry = system && code ? this.displays.get(`${system}|${code}`) : undefined;
    return entry?.[lang] ?? entry?.en ?? fallback ?? code ?? '?';
  }
}
