/* api/fcgi: the FastCGI front end (parley.fcgi); see api/fcgi.c. */
#ifndef PL_FCGI_H
#define PL_FCGI_H
#endif
