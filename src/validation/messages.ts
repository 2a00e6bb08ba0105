import { format, type Language, type Localized } from '../i18n/language.js';

/**
 * Every message the validator emits, in the three languages a Belgian care professional may read.
 * Each one says what is wrong and what would be valid; `{path}` is the FHIRPath location so that a
 * message still makes sense when it is shown without its OperationOutcome.expression.
 */
export const MESSAGES = {
  notAResource: {
    en: '{path}: expected a FHIR resource (a JSON object with a resourceType), found {found}',
    nl: '{path}: een FHIR-resource verwacht (een JSON-object met resourceType), maar {found} gevonden',
    fr: '{path}: une ressource FHIR est attendue (un objet JSON avec resourceType), trouvé {found}',
  },
  missingResourceType: {
    en: "{path}: 'resourceType' is missing; every resource names its type, e.g. \"resourceType\": \"Patient\"",
    nl: "{path}: 'resourceType' ontbreekt; elke resource vermeldt zijn type, bv. \"resourceType\": \"Patient\"",
    fr: "{path}: 'resourceType' manque; chaque ressource indique son type, p. ex. \"resourceType\": \"Patient\"",
  },
  unknownResourceType: {
    en: "{path}: '{found}' is not a FHIR R4 resource type{hint}",
    nl: "{path}: '{found}' is geen FHIR R4-resourcetype{hint}",
    fr: "{path}: '{found}' n'est pas un type de ressource FHIR R4{hint}",
  },
  abstractResourceType: {
    en: "{path}: '{found}' is an abstract type; use a concrete resource type",
    nl: "{path}: '{found}' is een abstract type; gebruik een concreet resourcetype",
    fr: "{path}: '{found}' est un type abstrait; utilisez un type de ressource concret",
  },
  notObject: {
    en: '{path}: expected a JSON object ({type}), found {found}',
    nl: '{path}: een JSON-object ({type}) verwacht, maar {found} gevonden',
    fr: '{path}: un objet JSON ({type}) est attendu, trouvé {found}',
  },
  mustBeArray: {
    en: "{path}: '{name}' repeats (0..{max}) and must be a JSON array, e.g. [ ... ]",
    nl: "{path}: '{name}' is herhaalbaar (0..{max}) en moet een JSON-array zijn, bv. [ ... ]",
    fr: "{path}: '{name}' est répétable (0..{max}) et doit être un tableau JSON, p. ex. [ ... ]",
  },
  mustNotBeArray: {
    en: "{path}: '{name}' occurs at most once and must be a single value, not an array",
    nl: "{path}: '{name}' komt hoogstens één keer voor en moet één waarde zijn, geen array",
    fr: "{path}: '{name}' apparaît au plus une fois et doit être une valeur unique, pas un tableau",
  },
  emptyArray: {
    en: "{path}: the array '{name}' is empty; leave the property out instead",
    nl: "{path}: de array '{name}' is leeg; laat de eigenschap dan weg",
    fr: "{path}: le tableau '{name}' est vide; omettez plutôt la propriété",
  },
  nullValue: {
    en: '{path}: null is not a valid value; leave the property out instead',
    nl: '{path}: null is geen geldige waarde; laat de eigenschap dan weg',
    fr: "{path}: null n'est pas une valeur valide; omettez plutôt la propriété",
  },
  unknownProperty: {
    en: "{path}: unknown property '{name}' in {type}{hint}",
    nl: "{path}: onbekende eigenschap '{name}' in {type}{hint}",
    fr: "{path}: propriété inconnue '{name}' dans {type}{hint}",
  },
  didYouMean: {
    en: "; did you mean '{name}'?",
    nl: "; bedoelde u '{name}'?",
    fr: "; vouliez-vous dire '{name}'?",
  },
  emptyElement: {
    en: '{path}: the element is empty; an element needs a value or child elements, so leave it out instead',
    nl: '{path}: het element is leeg; een element heeft een waarde of kindelementen nodig, laat het dan weg',
    fr: "{path}: l'élément est vide; un élément a besoin d'une valeur ou d'éléments enfants, omettez-le plutôt",
  },
  primitiveNoValue: {
    en: '{path}: the element has neither a value nor an extension; give a value or leave it out',
    nl: '{path}: het element heeft geen waarde en geen extensie; geef een waarde of laat het weg',
    fr: "{path}: l'élément n'a ni valeur ni extension; donnez une valeur ou omettez-le",
  },
  primitiveArrayLength: {
    en: "{path}: '{name}' and '_{name}' must be arrays of the same length (found {a} and {b})",
    nl: "{path}: '{name}' en '_{name}' moeten arrays van gelijke lengte zijn ({a} en {b} gevonden)",
    fr: "{path}: '{name}' et '_{name}' doivent être des tableaux de même longueur ({a} et {b} trouvés)",
  },
  wrongJsonType: {
    en: '{path}: a {type} must be a JSON {json}, found {found}',
    nl: '{path}: een {type} moet een JSON-{json} zijn, maar {found} gevonden',
    fr: '{path}: un {type} doit être un {json} JSON, trouvé {found}',
  },
  badFormat: {
    en: "{path}: '{value}' is not a valid {type}; expected {expected}",
    nl: "{path}: '{value}' is geen geldige {type}; verwacht: {expected}",
    fr: "{path}: '{value}' n'est pas un {type} valide; attendu: {expected}",
  },
  badCalendarDate: {
    en: "{path}: '{value}' is not an existing calendar date",
    nl: "{path}: '{value}' is geen bestaande kalenderdatum",
    fr: "{path}: '{value}' n'est pas une date de calendrier existante",
  },
  emptyString: {
    en: '{path}: an empty string is not a valid {type}; leave the property out instead',
    nl: '{path}: een lege tekst is geen geldige {type}; laat de eigenschap dan weg',
    fr: "{path}: une chaîne vide n'est pas un {type} valide; omettez plutôt la propriété",
  },
  outOfRange: {
    en: '{path}: {value} is out of range for {type}; expected {expected}',
    nl: '{path}: {value} valt buiten het bereik van {type}; verwacht: {expected}',
    fr: '{path}: {value} est hors limites pour {type}; attendu: {expected}',
  },
  tooLong: {
    en: '{path}: the value is {length} characters long; at most {max} are allowed',
    nl: '{path}: de waarde is {length} tekens lang; hoogstens {max} zijn toegelaten',
    fr: '{path}: la valeur compte {length} caractères; {max} au maximum sont permis',
  },
  minCardinality: {
    en: "{path}: '{name}' is required (at least {min}){source}, found {count}",
    nl: "{path}: '{name}' is verplicht (minstens {min}){source}, {count} gevonden",
    fr: "{path}: '{name}' est obligatoire (au moins {min}){source}, {count} trouvé(s)",
  },
  maxCardinality: {
    en: "{path}: at most {max} '{name}' allowed{source}, found {count}",
    nl: "{path}: hoogstens {max} '{name}' toegelaten{source}, {count} gevonden",
    fr: "{path}: au plus {max} '{name}' permis{source}, {count} trouvé(s)",
  },
  prohibited: {
    en: "{path}: '{name}' is not allowed{source}; leave it out",
    nl: "{path}: '{name}' is niet toegelaten{source}; laat het weg",
    fr: "{path}: '{name}' n'est pas permis{source}; omettez-le",
  },
  bySource: {
    en: ' by {source}',
    nl: ' volgens {source}',
    fr: ' selon {source}',
  },
  choiceMultiple: {
    en: '{path}: only one of {names} may be present',
    nl: '{path}: slechts één van {names} mag aanwezig zijn',
    fr: "{path}: un seul parmi {names} peut être présent",
  },
  typeNotAllowed: {
    en: '{path}: type {found} is not allowed{source}; allowed: {allowed}',
    nl: '{path}: type {found} is niet toegelaten{source}; toegelaten: {allowed}',
    fr: "{path}: le type {found} n'est pas permis{source}; permis: {allowed}",
  },
  fixedValue: {
    en: '{path}: the value {found} differs from the fixed value {expected}{source}',
    nl: '{path}: de waarde {found} verschilt van de vaste waarde {expected}{source}',
    fr: '{path}: la valeur {found} diffère de la valeur fixe {expected}{source}',
  },
  patternValue: {
    en: '{path}: the value {found} does not match the pattern {expected}{source}',
    nl: '{path}: de waarde {found} komt niet overeen met het patroon {expected}{source}',
    fr: '{path}: la valeur {found} ne correspond pas au modèle {expected}{source}',
  },
  minValue: {
    en: '{path}: {found} is below the minimum {expected}{source}',
    nl: '{path}: {found} ligt onder het minimum {expected}{source}',
    fr: '{path}: {found} est inférieur au minimum {expected}{source}',
  },
  maxValue: {
    en: '{path}: {found} is above the maximum {expected}{source}',
    nl: '{path}: {found} ligt boven het maximum {expected}{source}',
    fr: '{path}: {found} est supérieur au maximum {expected}{source}',
  },
  codeNotInValueSet: {
    en: "{path}: '{code}' is not in the value set {valueSet} ({codes})",
    nl: "{path}: '{code}' zit niet in de waardelijst {valueSet} ({codes})",
    fr: "{path}: '{code}' ne fait pas partie du jeu de valeurs {valueSet} ({codes})",
  },
  codingsNotInValueSet: {
    en: '{path}: none of the codes {found} is in the value set {valueSet} ({codes})',
    nl: '{path}: geen van de codes {found} zit in de waardelijst {valueSet} ({codes})',
    fr: '{path}: aucun des codes {found} ne fait partie du jeu de valeurs {valueSet} ({codes})',
  },
  codingsNotInExtensible: {
    en: '{path}: none of the codes {found} is in the value set {valueSet} ({codes}); a code from it should be used unless none fits',
    nl: '{path}: geen van de codes {found} zit in de waardelijst {valueSet} ({codes}); gebruik er een code uit, tenzij geen enkele past',
    fr: "{path}: aucun des codes {found} ne fait partie du jeu de valeurs {valueSet} ({codes}); utilisez-en un code, sauf si aucun ne convient",
  },
  noCodeForRequired: {
    en: '{path}: no code given, but a code from the value set {valueSet} is required ({codes})',
    nl: '{path}: geen code opgegeven, maar een code uit de waardelijst {valueSet} is verplicht ({codes})',
    fr: '{path}: aucun code donné, mais un code du jeu de valeurs {valueSet} est obligatoire ({codes})',
  },
  unknownCode: {
    en: "{path}: '{code}' is not a code of the code system {system}",
    nl: "{path}: '{code}' is geen code van het codesysteem {system}",
    fr: "{path}: '{code}' n'est pas un code du système de codes {system}",
  },
  wrongDisplay: {
    en: "{path}: '{display}' is not a display of {system}#{code}; expected {expected}",
    nl: "{path}: '{display}' is geen weergavenaam van {system}#{code}; verwacht: {expected}",
    fr: "{path}: '{display}' n'est pas un libellé de {system}#{code}; attendu: {expected}",
  },
  unresolvedBundleReference: {
    en: "{path}: '{ref}' matches the fullUrl of no entry of the Bundle",
    nl: "{path}: '{ref}' komt met de fullUrl van geen enkel item van de Bundle overeen",
    fr: "{path}: '{ref}' ne correspond au fullUrl d'aucune entrée du Bundle",
  },
  moreCodes: {
    en: '{shown}, ... {count} codes in total',
    nl: '{shown}, ... {count} codes in totaal',
    fr: '{shown}, ... {count} codes au total',
  },
  invariant: {
    en: '{path}: constraint {key} failed: {human}',
    nl: '{path}: regel {key} niet voldaan: {human}',
    fr: '{path}: la contrainte {key} n\'est pas respectée: {human}',
  },
  invariantError: {
    en: '{path}: constraint {key} could not be evaluated ({error})',
    nl: '{path}: regel {key} kon niet geëvalueerd worden ({error})',
    fr: "{path}: la contrainte {key} n'a pas pu être évaluée ({error})",
  },
  unknownExtension: {
    en: '{path}: the extension {url} is unknown, so its content was not checked',
    nl: '{path}: de extensie {url} is onbekend; de inhoud ervan werd niet gecontroleerd',
    fr: "{path}: l'extension {url} est inconnue; son contenu n'a pas été contrôlé",
  },
  unknownModifierExtension: {
    en: '{path}: the modifier extension {url} is unknown; a receiver cannot safely process a resource that it changes the meaning of',
    nl: '{path}: de modifier-extensie {url} is onbekend; een ontvanger kan een resource waarvan ze de betekenis wijzigt niet veilig verwerken',
    fr: "{path}: l'extension modificatrice {url} est inconnue; un destinataire ne peut pas traiter sans risque une ressource dont elle change le sens",
  },
  extensionUrlNotAbsolute: {
    en: "{path}: the extension url '{url}' must be an absolute URL (e.g. http://...)",
    nl: "{path}: de extensie-url '{url}' moet een absolute URL zijn (bv. http://...)",
    fr: "{path}: l'url d'extension '{url}' doit être une URL absolue (p. ex. http://...)",
  },
  extensionValueAndChildren: {
    en: '{path}: an extension has either a value[x] or nested extensions, not both and not neither',
    nl: '{path}: een extensie heeft ofwel een value[x] ofwel geneste extensies, niet beide en niet geen van beide',
    fr: '{path}: une extension a soit une value[x] soit des extensions imbriquées, ni les deux ni aucune',
  },
  extensionContext: {
    en: '{path}: the extension {url} may not be used here; it is defined for {contexts}',
    nl: '{path}: de extensie {url} mag hier niet gebruikt worden; ze is bedoeld voor {contexts}',
    fr: "{path}: l'extension {url} n'est pas permise ici; elle est définie pour {contexts}",
  },
  referenceTarget: {
    en: '{path}: a reference to a {found} is not allowed here{source}; allowed: {allowed}',
    nl: '{path}: een verwijzing naar een {found} is hier niet toegelaten{source}; toegelaten: {allowed}',
    fr: "{path}: une référence vers un {found} n'est pas permise ici{source}; permis: {allowed}",
  },
  referenceTypeMismatch: {
    en: "{path}: Reference.type '{type}' does not match the referenced {found}",
    nl: "{path}: Reference.type '{type}' komt niet overeen met de verwezen {found}",
    fr: "{path}: Reference.type '{type}' ne correspond pas au {found} référencé",
  },
  containedNotFound: {
    en: "{path}: the reference '{ref}' points to no contained resource; contained ids are: {ids}",
    nl: "{path}: de verwijzing '{ref}' wijst naar geen enkele contained resource; contained ids zijn: {ids}",
    fr: "{path}: la référence '{ref}' ne désigne aucune ressource contenue; les ids contenus sont: {ids}",
  },
  containedNotReferenced: {
    en: "{path}: the contained resource '{id}' is not referenced from the rest of the resource; contained resources must be referenced",
    nl: "{path}: de contained resource '{id}' wordt nergens in de resource naar verwezen; contained resources moeten gebruikt worden",
    fr: "{path}: la ressource contenue '{id}' n'est référencée nulle part dans la ressource; une ressource contenue doit être référencée",
  },
  sliceMin: {
    en: "{path}: at least {min} '{name}' matching slice '{slice}' ({description}) required{source}, found {count}",
    nl: "{path}: minstens {min} '{name}' volgens slice '{slice}' ({description}) verplicht{source}, {count} gevonden",
    fr: "{path}: au moins {min} '{name}' correspondant à la tranche '{slice}' ({description}) requis{source}, {count} trouvé(s)",
  },
  sliceMax: {
    en: "{path}: at most {max} '{name}' matching slice '{slice}' ({description}) allowed{source}, found {count}",
    nl: "{path}: hoogstens {max} '{name}' volgens slice '{slice}' ({description}) toegelaten{source}, {count} gevonden",
    fr: "{path}: au plus {max} '{name}' correspondant à la tranche '{slice}' ({description}) permis{source}, {count} trouvé(s)",
  },
  closedSlicing: {
    en: '{path}: this item matches none of the slices {slices}, and the slicing{source} is closed',
    nl: '{path}: dit item past in geen van de slices {slices}, en de slicing{source} is gesloten',
    fr: '{path}: cet élément ne correspond à aucune des tranches {slices}, et le découpage{source} est fermé',
  },
  sliceOrder: {
    en: "{path}: this item matches slice '{slice}' but comes after items of a later slice; the slicing{source} is ordered",
    nl: "{path}: dit item past in slice '{slice}' maar komt na items van een latere slice; de slicing{source} is geordend",
    fr: "{path}: cet élément correspond à la tranche '{slice}' mais suit des éléments d'une tranche ultérieure; le découpage{source} est ordonné",
  },
  unknownProfile: {
    en: '{path}: the profile {url} is unknown, so the resource was not checked against it',
    nl: '{path}: het profiel {url} is onbekend; de resource werd er niet aan getoetst',
    fr: "{path}: le profil {url} est inconnu; la ressource n'a pas été contrôlée selon ce profil",
  },
  profileWrongType: {
    en: '{path}: the profile {url} is for {expected}, not for {found}',
    nl: '{path}: het profiel {url} is bedoeld voor {expected}, niet voor {found}',
    fr: '{path}: le profil {url} est destiné à {expected}, pas à {found}',
  },
  narrative: {
    en: '{path}: the narrative XHTML is not valid: {problem}',
    nl: '{path}: de XHTML-tekst is niet geldig: {problem}',
    fr: "{path}: le XHTML du texte narratif n'est pas valide: {problem}",
  },
  tooDeep: {
    en: '{path}: the resource is nested deeper than {max} levels',
    nl: '{path}: de resource is dieper dan {max} niveaus genest',
    fr: '{path}: la ressource est imbriquée sur plus de {max} niveaux',
  },
  tooManyIssues: {
    en: '{path}: more than {max} errors or warnings; only the first {max} of each are listed',
    nl: '{path}: meer dan {max} fouten of waarschuwingen; enkel de eerste {max} van elk worden vermeld',
    fr: '{path}: plus de {max} erreurs ou avertissements; seuls les {max} premiers de chaque sont listés',
  },
  bundleFullUrlUnique: {
    en: "{path}: the fullUrl '{url}' occurs more than once in the Bundle; each entry needs its own fullUrl (or a different meta.versionId)",
    nl: "{path}: de fullUrl '{url}' komt meer dan eens voor in de Bundle; elk item heeft een eigen fullUrl nodig (of een andere meta.versionId)",
    fr: "{path}: le fullUrl '{url}' apparaît plusieurs fois dans le Bundle; chaque entrée a besoin de son propre fullUrl (ou d'un autre meta.versionId)",
  },
  fullUrlMismatch: {
    en: "{path}: the fullUrl '{url}' ends in an id that differs from the resource id '{id}'",
    nl: "{path}: de fullUrl '{url}' eindigt op een id die verschilt van de resource-id '{id}'",
    fr: "{path}: le fullUrl '{url}' se termine par un id différent de l'id de la ressource '{id}'",
  },
} satisfies Record<string, Localized>;

export type MessageId = keyof typeof MESSAGES;

export function message(id: MessageId, lang: Language, params: Record<string, unknown>): string {
  const text: Localized = MESSAGES[id];
  return format(text[lang] ?? text.en, params);
}

/** What a valid value of each primitive type looks like, for the "expected ..." part of format errors. */
export const PRIMITIVE_EXPECTATIONS: Record<string, Localized> = {
  boolean: { en: 'true or false', nl: 'true of false', fr: 'true ou false' },
  integer: { en: 'a whole number', nl: 'een geheel getal', fr: 'un nombre entier' },
  unsignedInt: { en: 'a whole number >= 0', nl: 'een geheel getal >= 0', fr: 'un nombre entier >= 0' },
  positiveInt: { en: 'a whole number >= 1', nl: 'een geheel getal >= 1', fr: 'un nombre entier >= 1' },
  decimal: { en: 'a number', nl: 'een getal', fr: 'un nombre' },
  date: { en: 'YYYY, YYYY-MM or YYYY-MM-DD', nl: 'JJJJ, JJJJ-MM of JJJJ-MM-DD', fr: 'AAAA, AAAA-MM ou AAAA-MM-JJ' },
  dateTime: {
    en: 'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone (Z or +01:00)',
    nl: 'JJJJ, JJJJ-MM, JJJJ-MM-DD of JJJJ-MM-DDTuu:mm:ss met tijdzone (Z of +01:00)',
    fr: 'AAAA, AAAA-MM, AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss avec fuseau horaire (Z ou +01:00)',
  },
  instant: {
    en: 'YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or +01:00)',
    nl: 'JJJJ-MM-DDTuu:mm:ss(.sss) met tijdzone (Z of +01:00)',
    fr: 'AAAA-MM-JJThh:mm:ss(.sss) avec fuseau horaire (Z ou +01:00)',
  },
  time: { en: 'hh:mm:ss', nl: 'uu:mm:ss', fr: 'hh:mm:ss' },
  code: {
    en: 'a code without leading, trailing or double spaces',
    nl: 'een code zonder spaties vooraan, achteraan of dubbel',
    fr: 'un code sans espaces au début, à la fin ou doubles',
  },
  id: {
    en: '1 to 64 letters, digits, - or .',
    nl: '1 tot 64 letters, cijfers, - of .',
    fr: '1 à 64 lettres, chiffres, - ou .',
  },
  oid: { en: 'urn:oid: followed by an OID, e.g. urn:oid:1.2.3', nl: 'urn:oid: gevolgd door een OID, bv. urn:oid:1.2.3', fr: 'urn:oid: suivi d\'un OID, p. ex. urn:oid:1.2.3' },
  uuid: {
    en: 'urn:uuid: followed by a lower-case UUID',
    nl: 'urn:uuid: gevolgd door een UUID in kleine letters',
    fr: 'urn:uuid: suivi d\'un UUID en minuscules',
  },
  uri: { en: 'a URI without spaces', nl: 'een URI zonder spaties', fr: 'une URI sans espaces' },
  url: { en: 'a URL without spaces', nl: 'een URL zonder spaties', fr: 'une URL sans espaces' },
  canonical: { en: 'a canonical URL without spaces', nl: 'een canonieke URL zonder spaties', fr: 'une URL canonique sans espaces' },
  base64Binary: { en: 'base64-encoded data', nl: 'base64-gecodeerde gegevens', fr: 'des données encodées en base64' },
  string: { en: 'text', nl: 'tekst', fr: 'du texte' },
  markdown: { en: 'text', nl: 'tekst', fr: 'du texte' },
  xhtml: { en: 'an XHTML <div>', nl: 'een XHTML-<div>', fr: 'un <div> XHTML' },
};

export const JSON_TYPE_NAMES: Record<string, Localized> = {
  string: { en: 'string', nl: 'tekst', fr: 'chaîne' },
  number: { en: 'number', nl: 'getal', fr: 'nombre' },
  boolean: { en: 'boolean', nl: 'boolean', fr: 'booléen' },
  object: { en: 'object', nl: 'object', fr: 'objet' },
  array: { en: 'array', nl: 'array', fr: 'tableau' },
  null: { en: 'null', nl: 'null', fr: 'null' },
};

/** How a found JSON value is described in a message: short, and never the whole of a large value. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `"${value.length > 60 ? value.slice(0, 57) + '...' : value}"`;
    case 'number':
    case 'boolean':
      return String(value);
    case 'object': {
      const json = JSON.stringify(value);
      return json.length > 80 ? json.slice(0, 77) + '...' : json;
    }
    default:
      return typeof value;
  }
}

export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
