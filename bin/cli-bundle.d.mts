// Types of ./cli-bundle.mjs (plain JavaScript so the bin can run it without tsx), for the tests.
export declare const RECORD_VERSION: number;
export declare const BUNDLE_FILE: string;
export declare const RECORD_FILE: string;
export declare function bundleDir(root: string): string;
export declare function nodeMajor(): number;
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}
export declare function fileStamp(root: string, file: string): FileStamp | null;
export declare function freshBundle(root: string, dir?: string): { bundle: string; stale?: undefined } | { bundle?: undefined; stale: string };
