-- Runs once, when the mysql container initialises its data directory (after it created the
-- firstcome database and user from MYSQL_DATABASE / MYSQL_USER).
-- mysqlclient is built against MariaDB Connector/C, which does not use TLS unless told to; MySQL
-- 8's default caching_sha2_password needs TLS or an RSA key exchange for a first login, so the
-- application account uses the native password method (enabled by --mysql-native-password=ON).
ALTER USER 'firstcome'@'%' IDENTIFIED WITH mysql_native_password BY 'firstcome';
-- The test suite creates and drops test_firstcome* (pytest-django).
GRANT ALL PRIVILEGES ON `test\_firstcome%`.* TO 'firstcome'@'%';
