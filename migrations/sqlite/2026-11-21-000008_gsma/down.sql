DROP TABLE gsma_callbacks;
DROP TABLE gsma_requests;
