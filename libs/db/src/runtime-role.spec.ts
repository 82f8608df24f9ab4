import { createRuntimeRoleSql, DatabaseRoleError, privilegedRoleMessage, runtimeRoleOf } from './runtime-role';

describe('the runtime role', () => {
  it("is DATABASE_URL's user, with its password when it has one (URL-decoded)", () => {
    expect(runtimeRoleOf('postgres://reopen_app@127.0.0.1:5432/reopen')).toEqual({
      name: 'reopen_app',
      password: null,
    });
    expect(runtimeRoleOf('postgres://app%40ops:p%40ss%2Fw@db:5432/reopen')).toEqual({
      name: 'app@ops',
      password: 'p@ss/w',
    });
  });

  it('must be named: a URL without a user would connect as whoever runs the process', () => {
    expect(() => runtimeRoleOf('postgres://127.0.0.1:5432/reopen')).toThrow(DatabaseRoleError);
    expect(() => runtimeRoleOf('postgres://127.0.0.1:5432/reopen')).toThrow(/DATABASE_URL names no user/);
  });

  it('is created by an administrator with SQL that quotes its name and keeps its password out of the text', () => {
    expect(createRuntimeRoleSql({ name: 'reopen_app', password: null })).toBe(
      'CREATE ROLE "reopen_app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;',
    );
    const sql = createRuntimeRoleSql({ name: 'we"ird', password: 'hunter2' });
    expect(sql).toBe(
      'CREATE ROLE "we""ird" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;\n' +
        '  \\password "we""ird"',
    );
    expect(sql).not.toContain('hunter2');
  });

  it('is refused at boot in one line that names the role, each problem and where the fix is', () => {
    const message = privilegedRoleMessage('root', ['superuser', 'UPDATE, DELETE on audit_log']);
    expect(message).toBe(
      'DATABASE_URL connects as "root", which can alter or bypass the audit log: superuser; UPDATE, DELETE on ' +
        'audit_log. Connect the API and the worker as the runtime role that migrate sets up ' +
        '(docs/security.md, "Database roles").',
    );
    expect(message).not.toContain('\n');
  });
});
