import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toAppError } from './to-app-error.js';
import { isDatabaseUnavailable } from './unavailable.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  const unavailable: Array<[string, unknown]> = [
    ['refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['reset', withCode('ECONNRESET', 'read ECONNRESET')],
    ['socket timeout', withCode('ETIMEDOUT')],
    ['admin shutdown', withCode('57P01', 'terminating connection due to administrator command')],
    ['cannot connect now', withCode('57P03', 'the database system is starting up')],
    ['statement timeout', withCode('57014', 'canceling statement due to statement timeout')],
    ['too many connections', withCode('53300', 'sorry, too many clients already')],
    ['connection failure', withCode('08006')],
    ['terminated', new Error('Connection terminated unexpectedly')],
    ['connect timeout', new Error('Connection terminated due to connection timeout')],
    ['client connect timeout', new Error('timeout expired')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['query timeout', new Error('Query read timeout')],
    ['not queryable', new Error('Client has encountered a connection error and is not queryable')],
    ['wrapped by TypeORM', Object.assign(new Error('query failed'), { driverError: withCode('57P01') })],
    ['as a cause', new Error('sweep failed', { cause: new Error('Query read timeout') })],
  ];
  for (const [name, err] of unavailable) it(`is true for ${name}`, () => assert.equal(isDatabaseUnavailable(err), true));

  const other: Array<[string, unknown]> = [
    ['unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    ['syntax error', withCode('42601')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a string', 'ECONNRESET'],
    ['null', null],
  ];
  for (const [name, err] of other) it(`is false for ${name}`, () => assert.equal(isDatabaseUnavailable(err), false));
});

describe('toAppError on database faults', () => {
  it('answers 503 UNAVAILABLE with Retry-After', () => {
    const error = toAppError(withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'));
    assert.deepEqual(
      { code: error?.code, status: error?.status, message: error?.message, headers: error?.headers },
      { code: 'UNAVAILABLE', status: 503, message: 'The database is not answering; retry later', headers: { 'retry-after': '2' } },
    );
  });

  it('leaves other database errors to the 500 path', () => {
    assert.equal(toAppError(withCode('23505')), undefined);
  });
});
