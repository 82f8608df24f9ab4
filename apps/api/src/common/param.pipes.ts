import { Injectable, PipeTransform } from '@nestjs/common';
import { parseLogin } from '@app/domain';
import { invalidParameter } from './api-exceptions';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Path ids are UUIDs: anything else is the caller's mistake (400 naming `id`), not a database error. */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw invalidParameter('id', 'must be a UUID');
    return value.toLowerCase();
  }
}

/** Logins follow the import's rule (lower-cased e-mail address, ≤ 254 characters, no control characters). */
@Injectable()
export class LoginParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    const login = parseLogin(value);
    if (!login) throw invalidParameter('login', 'must be an e-mail address as the mailstore knows it');
    return login;
  }
}
