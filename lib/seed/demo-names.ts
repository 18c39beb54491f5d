/**
 * The vocabulary of the demo data: Ethiopian given names in Ge'ez script with their usual Latin
 * spelling (index i of `am` is index i of `en`, so a customer keeps one identity in both scripts),
 * and the ten cities TicketHub's buses serve.
 */
export const GIVEN_NAMES: ReadonlyArray<{ am: string; en: string }> = [
  { am: 'አበበ', en: 'Abebe' },
  { am: 'በቀለ', en: 'Bekele' },
  { am: 'ትዕግስት', en: 'Tigist' },
  { am: 'ኃይሌ', en: 'Haile' },
  { am: 'ዳዊት', en: 'Dawit' },
  { am: 'ሰላም', en: 'Selam' },
  { am: 'ሜሮን', en: 'Meron' },
  { am: 'ዮናስ', en: 'Yonas' },
  { am: 'ሐና', en: 'Hana' },
  { am: 'ብሩክ', en: 'Biruk' },
  { am: 'ኤደን', en: 'Eden' },
  { am: 'ከበደ', en: 'Kebede' },
  { am: 'ግርማ', en: 'Girma' },
  { am: 'አለሙ', en: 'Alemu' },
  { am: 'ተስፋዬ', en: 'Tesfaye' },
  { am: 'መኮንን', en: 'Mekonnen' },
  { am: 'ወርቁ', en: 'Worku' },
  { am: 'ታደሰ', en: 'Tadesse' },
  { am: 'ጌታቸው', en: 'Getachew' },
  { am: 'አሰፋ', en: 'Assefa' },
  { am: 'ማርታ', en: 'Marta' },
  { am: 'ሳምራዊት', en: 'Samrawit' },
  { am: 'ቤተልሔም', en: 'Betelhem' },
  { am: 'ሄኖክ', en: 'Henok' },
  { am: 'ፋሲል', en: 'Fasil' },
  { am: 'ሊያ', en: 'Liya' },
  { am: 'መሰረት', en: 'Meseret' },
  { am: 'ብርሃኑ', en: 'Birhanu' },
  { am: 'ዮሐንስ', en: 'Yohannes' },
  { am: 'ሩት', en: 'Rut' },
  { am: 'ገነት', en: 'Genet' },
  { am: 'ኪዳን', en: 'Kidan' },
];

/**
 * Cities with their approximate road distance from Addis Ababa (km) and the highway corridor they
 * lie on: two cities on one corridor are |km1 - km2| apart, otherwise the route runs through Addis.
 */
export const CITIES: ReadonlyArray<{ en: string; am: string; km: number; corridor: number }> = [
  { en: 'Addis Ababa', am: 'አዲስ አበባ', km: 0, corridor: 0 },
  { en: 'Bahir Dar', am: 'ባሕር ዳር', km: 565, corridor: 1 },
  { en: 'Gondar', am: 'ጎንደር', km: 727, corridor: 1 },
  { en: 'Hawassa', am: 'ሀዋሳ', km: 275, corridor: 3 },
  { en: 'Mekelle', am: 'መቀሌ', km: 783, corridor: 2 },
  { en: 'Dire Dawa', am: 'ድሬ ዳዋ', km: 445, corridor: 4 },
  { en: 'Jimma', am: 'ጅማ', km: 352, corridor: 5 },
  { en: 'Adama', am: 'አዳማ', km: 99, corridor: 4 },
  { en: 'Dessie', am: 'ደሴ', km: 401, corridor: 2 },
  { en: 'Arba Minch', am: 'አርባ ምንጭ', km: 505, corridor: 3 },
];

/** Demo staff: [given name index, father's name index, role, script of the full name]. */
export const DEMO_STAFF: ReadonlyArray<{ first: number; last: number; role: 'super_admin' | 'admin' | 'staff'; script: 'am' | 'en'; active: boolean }> = [
  { first: 2, last: 3, role: 'super_admin', script: 'en', active: true }, // Tigist Haile
  { first: 0, last: 1, role: 'admin', script: 'am', active: true }, // አበበ በቀለ
  { first: 4, last: 15, role: 'admin', script: 'en', active: true }, // Dawit Mekonnen
  { first: 5, last: 14, role: 'staff', script: 'am', active: true }, // ሰላም ተስፋዬ
  { first: 7, last: 12, role: 'staff', script: 'en', active: true }, // Yonas Girma
  { first: 8, last: 16, role: 'staff', script: 'am', active: true }, // ሐና ወርቁ
  { first: 9, last: 17, role: 'staff', script: 'en', active: true }, // Biruk Tadesse
  { first: 20, last: 19, role: 'staff', script: 'am', active: false }, // ማርታ አሰፋ (left the company)
];
