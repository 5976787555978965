DROP TABLE products;
DROP TABLE merchants;
DROP TABLE agents;
DROP TABLE customers;
