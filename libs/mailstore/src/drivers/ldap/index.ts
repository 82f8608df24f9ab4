export { LdapMailstore } from './ldap.mailstore';
export { parseLdapSettings } from './ldap-settings';
