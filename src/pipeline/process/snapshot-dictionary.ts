/**
 * The preset DEFLATE dictionary of the compact snapshot form ("TSC1", `snapshot-codec.ts`): the
 * structure JSON of a typical stored state (the default engine after 250 bars of the bundled AAPL
 * session, number arrays already replaced by their markers). The structure of every save repeats
 * its keys and most of its shape, so against this dictionary it deflates to about 260 bytes instead
 * of 900.
 *
 * FROZEN: stored states are inflated with exactly these bytes. Changing a single character makes
 * every state written with it unreadable; a new dictionary needs a new magic beside this one.
 */
export const STRUCTURE_DICTIONARY = [
  '{"v":2,"watermarks":{"bar":1727890800000},"latestRowTime":1727890800000,"engine":{"v":1,"symbol":"AAPL",',
  '"calendar":"XNYS","aggregator":{"v":1,"symbol":"AAPL","graceMs":5000,"watermark":null,"lastClosedStart":null,',
  '"lastCum":null,"open":[]},"day":"2024-10-02","previousClose":null,"dayClose":226.8,"feedPreviousClose":null,',
  '"lastBar":{"start":1727890800000,"close":226.8},"lastFedDay":"2024-10-02","gapChecked":true,',
  '"indicators":[{"spec":{"name":"sma20","type":"SMA","period":20},"state":{"type":"SMA","version":1,',
  '"period":20,"head":10,"window":{"$f64":0},"sum":4534.7441}},{"spec":{"name":"sma200","type":"SMA",',
  '"period":200},"state":{"type":"SMA","version":1,"period":200,"head":50,"window":{"$f64":1},',
  '"sum":45299.38940000003}},{"spec":{"name":"ema20","type":"EMA","period":20},"state":{"type":"EMA",',
  '"version":1,"period":20,"count":20,"acc":226.73786632684389}},{"spec":{"name":"rsi14","type":"RSI",',
  '"period":14},"state":{"type":"RSI","version":1,"period":14,"count":15,"gain":0.03332176826788082,',
  '"loss":0.029838619939807857,"previous":226.8}},{"spec":{"name":"macd","type":"MACD","fast":12,',
  '"slow":26,"signal":9},"state":{"type":"MACD","version":1,"fast":{"type":"EMA","version":1,',
  '"period":12,"count":12,"acc":226.72129914495147},"slow":{"type":"EMA","version":1,"period":26,',
  '"count":26,"acc":226.75246669584143},"signal":{"type":"EMA","version":1,"period":9,"count":9,',
  '"acc":-0.048669930229920035}}},{"spec":{"name":"bb20","type":"BollingerBands","period":20,',
  '"multiplier":2,"deviation":"population"},"state":{"type":"BollingerBands","version":1,"period":20,',
  '"multiplier":2,"deviation":"population","head":10,"window":{"$f64":2},"mean":226.737205,"m2":0.4409374094999262,',
  '"last":226.8}},{"spec":{"name":"atr14","type":"ATR","period":14},"state":{"type":"ATR","version":1,',
  '"period":14,"count":14,"acc":0.1231138258107503,"previousClose":226.8}},{"spec":{"name":"vwap",',
  '"type":"VWAP"},"state":{"type":"VWAP","version":1,"sessionId":"2024-10-02","pv":4668883682.191001,',
  '"pvc":-9.243376553058624e-7,"vol":20699914,"volc":0}},{"spec":{"name":"roc10","type":"ROC",',
  '"period":10},"state":{"type":"ROC","version":1,"period":10,"head":8,"window":{"$f64":3}}}],',
  '"returns":{"window":200,"state":{"type":"ReturnsZScore","version":1,"period":200,"deviation":"sample",',
  '"previous":226.8,"z":-0.10280995497482678,"head":49,"window":{"$f64":4},"mean":0.00004197630012987456,',
  '"m2":0.000035884637440751785}},"volume":{"window":200,"state":{"type":"SMA","version":1,"period":200,',
  '"head":50,"window":{"$f64":5},"sum":12074755},"extended":{"type":"SMA","version":1,"period":200,',
  '"head":0,"window":[],"sum":0}},"episodes":{"priceMove":{"sign":0,"rank":0},"returnZ":{"sign":0,',
  '"rank":0},"volume":{"sign":0,"rank":0}}}}',
].join('');
