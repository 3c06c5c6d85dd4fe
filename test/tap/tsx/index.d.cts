export declare const importLoader: string;
export declare const loader: string;
export declare const testFileExtensions: string[];
