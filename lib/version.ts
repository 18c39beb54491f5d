import pkg from '../package.json';

/** The app's version from package.json (recorded in every manifest). */
export const APP_VERSION: string = pkg.version;
