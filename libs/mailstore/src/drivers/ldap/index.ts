export { LdapMailstore } from './ldap.mailstore';
