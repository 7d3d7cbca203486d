import { z } from 'zod';

/**
 * Yahoo-style instrument symbols: equities (AAPL, BRK-B, RDS.A, 0700.HK), indices (^GSPC),
 * FX pairs (EURUSD=X), futures (GC=F) and crypto pairs (BTC-USD).
 */
export const SYMBOL_PATTERN = /^\^?[A-Z0-9][A-Z0-9.-]{0,15}(=[XF])?$/;

export const SymbolSchema = z
  .string()
  .regex(
    SYMBOL_PATTERN,
    'unknown symbol format: expected a Yahoo-style symbol such as AAPL, ^GSPC, EURUSD=X, GC=F or BTC-USD',
  );

export type MarketSymbol = z.infer<typeof SymbolSchema>;

export type AssetClass = 'equity' | 'index' | 'fx' | 'future' | 'crypto';

const CRYPTO_QUOTES = /-(USD|USDT|USDC|EUR|GBP|BTC|ETH)$/;

/** Classifies a symbol by its Yahoo spelling. Crypto pairs trade 24/7 and have no session. */
export function assetClassOf(symbol: string): AssetClass {
  if (symbol.startsWith('^')) return 'index';
  if (symbol.endsWith('=X')) return 'fx';
  if (symbol.endsWith('=F')) return 'future';
  if (CRYPTO_QUOTES.test(symbol) && !symbol.includes('.')) return 'crypto';
  return 'equity';
}
