export * from './send-permit-fence';
