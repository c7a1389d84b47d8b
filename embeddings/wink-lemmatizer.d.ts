// Minimal types for wink-lemmatizer 3 (CommonJS, ships no declarations).
declare module 'wink-lemmatizer' {
  interface WinkLemmatizer {
    noun(word: string): string;
    verb(word: string): string;
    adjective(word: string): string;
  }
  const lemmatizer: WinkLemmatizer;
  export = lemmatizer;
}
