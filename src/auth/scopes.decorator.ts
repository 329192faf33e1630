import { SetMetadata } from '@nestjs/common';
import type { Scope } from './api-keys.js';

export const PUBLIC_ROUTE = 'lathe:public';
export const REQUIRED_SCOPE = 'lathe:scope';

/** No API key needed (health, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
/** An API key holding this scope (or admin) is needed. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
